"""Project paths. Notebooks and the runner use these, never paths relative to the cwd."""
from pathlib import Path

PROJ_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = PROJ_ROOT / "data"
SCENARIO_DIR = DATA_DIR / "scenarios"
CLUSTER_DIR = DATA_DIR / "clusters"
PARAMETER_DIR = DATA_DIR / "parameters"
NOTEBOOK_DIR = PROJ_ROOT / "notebooks"
REPORT_DIR = PROJ_ROOT / "reports"
TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
