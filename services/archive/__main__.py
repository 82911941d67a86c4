from services.archive.main import build

build().serve()
