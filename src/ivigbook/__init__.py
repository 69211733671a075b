"""ivigbook: the tested library behind the IVIG-in-systemic-sclerosis analysis book."""

from ivigbook.data.cohort import Cohort
from ivigbook.data.params import AnalysisParams

__version__ = "0.1.0"
__all__ = ["Cohort", "AnalysisParams", "__version__"]
