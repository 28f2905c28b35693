"""Theory: one module per paper with its constants, bounds and predicted exponents.

`neurotron` (paper 000), `poisoning` (paper 001), `lazy` (paper 002 and Bubeck et al.),
`adversarial` (paper 004), `schmidt` (Schmidt et al. 2018); `fitting` holds the log-log slope
fit and the `Verdict` every experiment's summary uses.
"""

from robustlab.theory.fitting import SlopeFit, Verdict, compare_exponent, fit_loglog_slope

__all__ = ["SlopeFit", "Verdict", "compare_exponent", "fit_loglog_slope"]
