"""Multi-armed bandits over prompt variants: Thompson sampling (Beta posteriors) or UCB1, seedable.

An arm's history is (tries, total reward) with rewards in [0, 1] (a task's
score). `choose` returns the arm and one line saying why.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

POLICIES = ("thompson", "ucb1", "off")


@dataclass
class Arm:
    name: str
    tries: int = 0
    reward: float = 0.0

    @property
    def mean(self) -> float:
        return self.reward / self.tries if self.tries else 0.0


def choose(arms: list[Arm], policy: str, rng: random.Random) -> tuple[str, str]:
    if not arms:
        raise ValueError("no arm to choose from")
    if policy == "off" or len(arms) == 1:
        return arms[0].name, f"{policy}: {arms[0].name} (no choice made)"
    if policy == "ucb1":
        return _ucb1(arms)
    return _thompson(arms, rng)


def _history(arms: list[Arm]) -> str:
    return ", ".join(f"{a.name} {a.reward:.1f}/{a.tries}" for a in arms)


def _thompson(arms: list[Arm], rng: random.Random) -> tuple[str, str]:
    draws = {a.name: rng.betavariate(1.0 + a.reward, 1.0 + a.tries - a.reward) for a in arms}
    best = max(arms, key=lambda a: draws[a.name])
    return best.name, f"thompson: drew {draws[best.name]:.2f} for {best.name} (scores/tries: {_history(arms)})"


def _ucb1(arms: list[Arm]) -> tuple[str, str]:
    untried = [a for a in arms if a.tries == 0]
    if untried:
        return untried[0].name, f"ucb1: {untried[0].name} not tried yet"
    total = sum(a.tries for a in arms)
    bounds = {a.name: a.mean + math.sqrt(2 * math.log(total) / a.tries) for a in arms}
    best = max(arms, key=lambda a: bounds[a.name])
    return best.name, f"ucb1: bound {bounds[best.name]:.2f} for {best.name} (scores/tries: {_history(arms)})"
