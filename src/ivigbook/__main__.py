"""python -m ivigbook"""

from ivigbook.cli import main

raise SystemExit(main())
