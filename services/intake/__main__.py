from services.intake.main import build

build().serve()
