from services.disbursement.main import build

build().serve()
