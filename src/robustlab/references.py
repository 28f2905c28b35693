"""The papers robustlab reproduces: one ``Reference`` per paper id ("000" to "004").

Every field is read from the paper's text copy in ``shared/papers/`` (its title page, its
copyright line) or from ``shared/papers/INDEX.md``; a field that cannot be read there is left
empty rather than guessed (paper 004 is an anonymous submission under review; paper 002's text
copy starts at its abstract, so its authors are not in it).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["REFERENCES", "Reference", "UnknownPaperError", "reference", "short_title"]


@dataclass(frozen=True)
class Reference:
    """One paper: ``short`` is the few words ``robustlab list`` and the report print.

    ``authors``, ``venue``, ``year`` and ``link`` are empty ("" or None) where the paper's text
    does not give them; ``code`` is the authors' public code where the paper names it; ``note``
    says what robustlab takes from a paper that cites others (the slides of paper 003).
    """

    paper: str
    short: str
    title: str
    authors: str
    venue: str
    year: int | None
    link: str = ""
    code: str = ""
    note: str = ""

    def citation(self) -> str:
        """One line: authors, title, venue, year (the fields that are known)."""
        year = str(self.year or "")
        parts = [self.authors, f"*{self.title}*", self.venue, "" if year in self.venue else year]
        return ". ".join(part for part in parts if part) + "."


REFERENCES: dict[str, Reference] = {
    reference.paper: reference
    for reference in (
        Reference(
            paper="000",
            short="Neuro-Tron under data poisoning",
            title="Guarantees on learning depth-2 neural networks under a data-poisoning attack",
            authors="Anirbit Mukherjee, Ramchandran Muthukumar",
            venue="",
            year=None,
        ),
        Reference(
            paper="001",
            short="Robust learning for data poisoning",
            title="Robust Learning for Data Poisoning Attacks",
            authors="Yunjuan Wang, Poorya Mianjy, Raman Arora",
            venue="ICML 2021 (PMLR 139)",
            year=2021,
            code="https://github.com/bettyttytty/robust_learning_for_data_poisoning_attack",
        ),
        Reference(
            paper="002",
            short="Robustness at odds with lazy training",
            title="Adversarial robustness is at odds with lazy training",
            authors="",
            venue="NeurIPS 2022",
            year=2022,
        ),
        Reference(
            paper="003",
            short="Robustness theory (Bubeck, Vardi, Schmidt)",
            title="Mathematical Theory of Robustness of Neural Networks",
            authors="Thomas Weinberger",
            venue="EDIC candidacy exam slides, EPFL (LTHC)",
            year=2023,
            note=(
                "slides on Bubeck et al. (NeurIPS '21), Vardi et al. (NeurIPS '22) and "
                "Schmidt et al. (NeurIPS '18); robustlab reproduces the experiments they show"
            ),
        ),
        Reference(
            paper="004",
            short="Reflected loss for adversarial training",
            title="Robustness guarantees for adversarially trained neural networks",
            authors="Anonymous authors",
            venue="under double-blind review",
            year=None,
        ),
    )
}
"""The five papers by id, as in ``shared/papers/INDEX.md``."""


class UnknownPaperError(KeyError):
    """A paper id that is not in REFERENCES."""


def reference(paper: str) -> Reference:
    """The Reference of ``paper`` ("000" to "004").

    Raises UnknownPaperError naming the id and the known ones.
    """
    if not isinstance(paper, str):
        raise TypeError(f"paper must be a str id such as '002', got {type(paper).__name__}")
    if paper not in REFERENCES:
        raise UnknownPaperError(f"unknown paper {paper!r}; known: {', '.join(REFERENCES)}")
    return REFERENCES[paper]


def short_title(paper: str) -> str:
    """``"002 Robustness at odds with lazy training"``; the bare id for an unknown paper."""
    known = REFERENCES.get(paper) if isinstance(paper, str) else None
    return f"{paper} {known.short}" if known is not None else str(paper)
