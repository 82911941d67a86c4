from services.publicity.main import build

build().serve()
