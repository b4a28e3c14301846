import gc

from app import create_app

app = create_app()
# What start-up loaded (the app, SQLAlchemy, SpiffWorkflow, babel's data: ~200,000 objects) lives as long as the
# process: frozen, it is out of the collector's full passes, which then check only what requests made — a full pass
# over everything took 60–80 ms, once every dozen board pages (docs/PERFORMANCE.md).
gc.freeze()
