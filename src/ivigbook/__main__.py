"""python -m ivigbook"""
from .cli import main

raise SystemExit(main())
