from services.review.main import build

build().serve()
