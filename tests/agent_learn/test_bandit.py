"""The bandit converges to the prompt variant that succeeds more often: simulated arms, then real scripted tasks."""

from __future__ import annotations

import random
import time

import pytest

from plugins.agent import bandit, variants
from tests.agent_learn.conftest import VariantServer, engine_for

TASKS = 24  # the stated budget: within 24 tasks the bandit settles on the better coder variant
LAST = 10  # of the last 10 tasks, at least 8 use it


@pytest.mark.parametrize("policy", ["thompson", "ucb1"])
def test_simulated_bernoulli_arms_converge_for_every_seed(policy):
    for seed in range(20):
        rng = random.Random(seed)
        world = random.Random(1000 + seed)
        arms = [bandit.Arm("base"), bandit.Arm("steps")]
        odds = {"base": 0.2, "steps": 0.8}
        picks = []
        for _ in range(200):
            name, reason = bandit.choose(arms, policy, rng)
            assert reason.startswith(policy) and name in reason
            arm = next(a for a in arms if a.name == name)
            arm.tries += 1
            arm.reward += 1.0 if world.random() < odds[name] else 0.0
            picks.append(name)
        assert picks[-100:].count("steps") >= 80, (policy, seed, picks[-100:].count("steps"))


def test_the_same_seed_makes_the_same_choices():
    arms = [bandit.Arm("base", 3, 1.0), bandit.Arm("steps", 2, 1.5)]
    first = [bandit.choose(arms, "thompson", random.Random(5)) for _ in range(3)]
    assert first == [bandit.choose(arms, "thompson", random.Random(5)) for _ in range(3)]
    assert bandit.choose(arms, "off", random.Random(5))[0] == "base"


def test_scripted_tasks_make_the_bandit_choose_the_better_coder_variant(fast_repo):
    assert variants.names("coder") == ["base", "steps"]
    with VariantServer({"base": 0.2, "steps": 0.9}, seed=3) as server:
        repo = fast_repo(server.url)
        engine, store = engine_for(repo, server.url, ["coder:1b"], seed=11)
        started = time.monotonic()
        states = []
        for n in range(TASKS):
            task_id = engine.start(f"make add add ({n})", "given")
            states.append(engine.run(task_id))
        elapsed = time.monotonic() - started
        chosen = [
            r["variant"] for r in store.db.execute("SELECT variant FROM choices WHERE agent = 'coder' ORDER BY created")
        ]
        assert chosen == server.coder_variants  # what the bandit chose is what the model was given
        assert len(chosen) == TASKS
        assert chosen[-LAST:].count("steps") >= 8, chosen
        assert "done" in states and "failed" in states  # both outcomes were really scored
        # the choice and its reason are in the task's log
        last = store.tasks()[0]["id"]
        notes = [e["note"] for e in store.events(last) if e["outcome"] == "variant"]
        assert any(n.startswith("coder: ") and "thompson: drew" in n for n in notes), notes
        # the scores the bandit learned from: a done task scores high, a failed one low
        scores = {r["task_id"]: r["score"] for r in store.db.execute("SELECT task_id, score FROM scores")}
        done = [scores[t["id"]] for t in store.tasks() if t["state"] == "done"]
        failed = [scores[t["id"]] for t in store.tasks() if t["state"] == "failed"]
        assert len(scores) == TASKS and min(done) > 0.8 > 0.2 > max(failed)
        print(f"{TASKS} tasks in {elapsed:.1f}s; coder variants chosen: {chosen}")
