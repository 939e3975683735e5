"""The content-addressed cache: verified reads, LRU eviction, concurrency, kills."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from helper.cache import Cache, action_key
from tests.conftest import ROOT, run_help


def test_blob_and_action_round_trip(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "c")
    digest = cache.put_blob(b"hello")
    assert digest == hashlib.sha256(b"hello").hexdigest()
    assert cache.get_blob(digest) == b"hello"
    key = action_key("test", "tests/test_a.py::test_x", {"a.py": "123"})
    assert cache.get_action(key) is None
    cache.put_action(key, {"outcome": "passed", "duration": 0.5}, duration=0.5)
    assert cache.get_action(key) == {"outcome": "passed", "duration": 0.5}
    assert (cache.session.hits, cache.session.misses) == (1, 1)
    assert cache.session.time_saved == 0.5


def test_touching_an_action_marks_it_used_without_rewriting_it(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "c")
    key = action_key("touch")
    assert not cache.touch_action(key)  # nothing stored: the caller must write it
    cache.put_action(key, {"outcome": "passed"})
    entry = tmp_path / "c" / "ac" / key[:2] / key
    os.utime(entry, (1_000_000, 1_000_000))
    inode = entry.stat().st_ino
    assert cache.touch_action(key)
    assert entry.stat().st_mtime > 1_000_000 and entry.stat().st_ino == inode
    assert cache.get_action(key) == {"outcome": "passed"}


def test_put_file_streams_large_artifacts(tmp_path: Path) -> None:
    source = tmp_path / "wheel.whl"
    source.write_bytes(os.urandom(3 << 20))
    cache = Cache(tmp_path / "c")
    digest = cache.put_file(source)
    path = cache.blob_path(digest)
    assert path is not None and path.read_bytes() == source.read_bytes()


def test_corrupt_entries_are_evicted_never_returned(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "c")
    digest = cache.put_blob(b"payload")
    blob = tmp_path / "c" / "cas" / digest[:2] / digest
    blob.write_bytes(b"tampered")
    assert cache.get_blob(digest) is None
    assert not blob.exists()

    key = action_key("x")
    cache.put_action(key, {"ok": True})
    entry = tmp_path / "c" / "ac" / key[:2] / key
    raw = json.loads(entry.read_bytes())
    raw["payload"] = raw["payload"].replace("true", "false")
    entry.write_text(json.dumps(raw))
    assert cache.get_action(key) is None
    assert not entry.exists()
    entry.parent.mkdir(parents=True, exist_ok=True)
    entry.write_bytes(b"\x00garbage")
    assert cache.get_action(key) is None
    assert cache.session.corrupt == 3
    assert len(cache.session.corrupt_keys) == 3


def test_gc_evicts_least_recently_used_first(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "c")
    digests = [cache.put_blob(bytes([i]) * 1000) for i in range(10)]
    now = time.time()
    for age, digest in enumerate(digests):  # digests[0] newest ... digests[9] oldest
        path = tmp_path / "c" / "cas" / digest[:2] / digest
        os.utime(path, (now - age * 100, now - age * 100))
    cache.get_blob(digests[9])  # reading it makes it the most recently used
    result = cache.gc(5000)
    assert result["removed"] == 5
    kept = {d for d in digests if cache.get_blob(d) is not None}
    assert kept == {digests[0], digests[1], digests[2], digests[3], digests[9]}


def test_flush_counts_into_stats_and_cli_reports_them(make_project) -> None:
    root = make_project()
    cache = Cache(root / ".help" / "cache")
    key = action_key("a")
    cache.put_action(key, {"v": 1}, duration=2.0)
    cache.get_action(key)
    cache.get_action(action_key("missing"))
    cache.flush()
    result = run_help("cache", "stats", "--json", cwd=root)
    assert result.returncode == 0, result.stderr
    stats = json.loads(result.stdout)
    assert stats["hits"] == 1 and stats["misses"] == 1 and stats["actions"] == 1
    assert stats["time_saved_s"] == 2.0
    result = run_help("cache", "gc", "--max-size", "0", "--json", cwd=root)
    assert json.loads(result.stdout)["removed"] == 1
    result = run_help("cache", "gc", "--max-size", "lots", cwd=root)
    assert result.returncode == 2 and "is not a size" in result.stderr
    cache.put_blob(b"x")
    result = run_help("cache", "clean", "--json", cwd=root)
    assert json.loads(result.stdout)["removed"] == 1


WRITER = textwrap.dedent(
    """
    import sys, os
    sys.path.insert(0, {root!r})
    from helper.cache import Cache, action_key
    from helper.journal import Journal
    cache = Cache(__import__("pathlib").Path(sys.argv[1]))
    journal = Journal(__import__("pathlib").Path(sys.argv[2]))
    me = int(sys.argv[3])
    for i in range(60):
        shared = action_key("shared", i)          # every process writes these
        cache.put_action(shared, {{"i": i, "blob": cache.put_blob(("shared%d" % i).encode() * 500)}})
        cache.put_action(action_key("own", me, i), {{"me": me, "i": i}})
        got = cache.get_action(shared)
        assert got is None or got["i"] == i, got
        run = journal.start("test", ["--n", str(i)], "t")
        journal.finish(run, 0, duration=0.01, cache_hits=1)
    cache.flush()
    """
)


def test_eight_processes_write_cache_and_journal_at_once(tmp_path: Path) -> None:
    script = tmp_path / "writer.py"
    script.write_text(WRITER.format(root=str(ROOT)))
    cache_dir, journal_path = tmp_path / "cache", tmp_path / "journal.sqlite"
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(cache_dir), str(journal_path), str(n)], stderr=subprocess.PIPE, text=True
        )
        for n in range(8)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    cache = Cache(cache_dir)
    for i in range(60):
        entry = cache.get_action(action_key("shared", i))
        assert entry["i"] == i
        assert cache.get_blob(entry["blob"]) == (f"shared{i}".encode() * 500)
        for me in range(8):
            assert cache.get_action(action_key("own", me, i)) == {"me": me, "i": i}
    assert cache.session.corrupt == 0
    stats = json.loads((cache_dir / "stats.json").read_text())
    assert stats["hits"] + stats["misses"] == 8 * 60

    from helper.journal import Journal

    journal = Journal(journal_path)
    assert journal.check() == "ok"
    assert journal.db.execute("SELECT COUNT(*), SUM(exit_code IS NULL) FROM runs").fetchone() == (480, 0)


def test_concurrent_cli_invocations_share_the_journal(make_project) -> None:
    root = make_project()
    from tests.conftest import HELP, clean_env

    procs = [
        subprocess.Popen(
            [sys.executable, str(HELP), "cache", "stats"],
            cwd=root,
            env=clean_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(8)
    ]
    assert all(p.wait(timeout=60) == 0 for p in procs)
    result = run_help("history", "--json", "-n", "50", cwd=root)
    runs = json.loads(result.stdout)
    assert len([r for r in runs if r["command"] == "cache"]) == 8


KILLED_WRITER = textwrap.dedent(
    """
    import os, sys
    sys.path.insert(0, {root!r})
    from helper.cache import Cache, action_key
    cache = Cache(__import__("pathlib").Path(sys.argv[1]))
    i = 0
    print("ready", flush=True)
    while True:
        data = os.urandom(256 * 1024)
        cache.put_action(action_key(i), {{"blob": cache.put_blob(data), "pad": "x" * 100000}})
        i += 1
    """
)


def test_sigkill_during_writes_leaves_no_entry_that_reads_back_wrong(tmp_path: Path) -> None:
    script = tmp_path / "killed.py"
    script.write_text(KILLED_WRITER.format(root=str(ROOT)))
    cache_dir = tmp_path / "cache"
    for delay in (0.3, 0.55, 0.8):
        proc = subprocess.Popen([sys.executable, str(script), str(cache_dir)], stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    cache = Cache(cache_dir)
    entries = [e for e in (cache_dir / "ac").glob("*/*") if not e.name.startswith(".")]
    assert entries, "the writer wrote nothing before it was killed"
    for entry in entries:
        payload = cache.get_action(entry.name)
        assert payload is not None
        blob = (
            cache.get_blob(payload["blob"])
            if (cache_dir / "cas" / payload["blob"][:2] / payload["blob"]).exists()
            else None
        )
        assert blob is None or hashlib.sha256(blob).hexdigest() == payload["blob"]
    for blob_path in (cache_dir / "cas").glob("*/*"):
        if blob_path.name.startswith("."):
            continue
        assert hashlib.sha256(blob_path.read_bytes()).hexdigest() == blob_path.name
    assert cache.session.corrupt == 0
    # Temp files of killed writers are swept by gc once stale.
    leftovers = list(cache_dir.rglob(".*.tmp"))
    old = time.time() - 7200
    for tmp in leftovers:
        os.utime(tmp, (old, old))
    cache.gc()
    assert not list(cache_dir.rglob(".*.tmp"))


def _loose_actions(cache_dir: Path) -> list[Path]:
    return [e for e in (cache_dir / "ac").glob("*/*") if e.parent.name != "pk" and not e.name.startswith(".")]


def test_a_batch_is_one_pack_file_and_every_result_reads_back(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "c")
    keys = [action_key("batch", i) for i in range(200)]
    with cache.batch():
        for i, key in enumerate(keys):
            cache.put_action(key, {"outcome": "passed", "i": i, "text": "line\nbreak"}, duration=0.01)
            assert cache.touch_action(key)  # visible inside the block already
        assert not list((tmp_path / "c" / "ac").glob("pk/*.pack"))  # written when the block ends
    packs = list((tmp_path / "c" / "ac" / "pk").glob("*.pack"))
    assert len(packs) == 1 and not _loose_actions(tmp_path / "c")
    fresh = Cache(tmp_path / "c")  # another process's view
    assert [fresh.get_action(k)["i"] for k in keys] == list(range(200))
    assert fresh.get_action(keys[0])["text"] == "line\nbreak"
    assert fresh.get_action(action_key("absent")) is None
    assert (fresh.session.hits, fresh.session.misses, fresh.session.corrupt) == (201, 1, 0)
    stats = fresh.stats()
    assert stats["actions"] == 200 and stats["entries"] == 200


def test_a_small_batch_is_written_loose(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "c")
    with cache.batch():
        for i in range(3):
            cache.put_action(action_key("few", i), {"i": i})
    assert len(_loose_actions(tmp_path / "c")) == 3
    assert not list((tmp_path / "c" / "ac").glob("pk/*"))


def test_results_put_before_an_exception_are_written(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "c")
    try:
        with cache.batch():
            for i in range(20):
                cache.put_action(action_key("interrupted", i), {"i": i})
            raise KeyboardInterrupt
    except KeyboardInterrupt:
        pass
    assert all(Cache(tmp_path / "c").get_action(action_key("interrupted", i)) == {"i": i} for i in range(20))


def test_a_damaged_pack_line_is_a_miss_and_the_others_still_answer(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "c")
    keys = [action_key("damaged", i) for i in range(10)]
    with cache.batch():
        for i, key in enumerate(keys):
            cache.put_action(key, {"outcome": "passed", "i": i})
    (pack,) = (tmp_path / "c" / "ac" / "pk").glob("*.pack")
    data = pack.read_bytes()
    pack.write_bytes(data.replace(b'\\"i\\":3', b'\\"i\\":4', 1))  # payload changed, its checksum not
    fresh = Cache(tmp_path / "c")
    answers = {k: fresh.get_action(k) for k in keys}
    assert answers[keys[3]] is None and fresh.session.corrupt == 1
    assert all(answers[k] == {"outcome": "passed", "i": i} for i, k in enumerate(keys) if i != 3)
    fresh.put_action(keys[3], {"outcome": "passed", "i": 3})  # stored again: the good entry wins from now on
    assert Cache(tmp_path / "c").get_action(keys[3]) == {"outcome": "passed", "i": 3}


def test_a_pack_is_one_unit_for_lru_eviction_and_use_keeps_it(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "c")
    old_keys = [action_key("old", i) for i in range(10)]
    new_keys = [action_key("new", i) for i in range(10)]
    for keys in (old_keys, new_keys):
        with cache.batch():
            for key in keys:
                cache.put_action(key, {"pad": "x" * 500})
    packs = list((tmp_path / "c" / "ac" / "pk").glob("*.pack"))
    assert len(packs) == 2
    now = time.time()
    old_pack = next(p for p in packs if old_keys[0] in p.read_text())
    new_pack = next(p for p in packs if p != old_pack)
    os.utime(old_pack, (now - 500, now - 500))
    os.utime(new_pack, (now - 100, now - 100))
    assert Cache(tmp_path / "c").touch_action(old_keys[5])  # used: the old pack is the recent one now
    assert old_pack.stat().st_mtime > now - 10
    Cache(tmp_path / "c").gc(old_pack.stat().st_size + 10)
    fresh = Cache(tmp_path / "c")
    assert all(fresh.get_action(k) is not None for k in old_keys)
    assert all(fresh.get_action(k) is None for k in new_keys)


def test_packs_past_the_limit_are_merged_keeping_every_entry_and_the_newest_mtime(tmp_path: Path) -> None:
    from helper.cache_packs import MAX_PACKS

    cache = Cache(tmp_path / "c")
    keys = []
    for run in range(MAX_PACKS + 1):
        with cache.batch():
            for i in range(8):
                keys.append(action_key("run", run, i))
                cache.put_action(keys[-1], {"run": run, "i": i})
        for pack in (tmp_path / "c" / "ac" / "pk").glob("*.pack"):
            if run < MAX_PACKS and pack.stat().st_mtime > 2_000_000:  # the one just written: made old
                os.utime(pack, (1_000_000 + run, 1_000_000 + run))
    packs = list((tmp_path / "c" / "ac" / "pk").glob("*.pack"))
    assert len(packs) == 1 and packs[0].stat().st_mtime > 2_000_000
    fresh = Cache(tmp_path / "c")
    assert all(fresh.get_action(k) is not None for k in keys) and fresh.session.corrupt == 0
    assert fresh.stats()["actions"] == len(keys)


PACK_WRITER = """
import sys
sys.path.insert(0, {root!r})
from helper.cache import Cache, action_key
cache = Cache(__import__("pathlib").Path(sys.argv[1]))
me = int(sys.argv[2])
for run in range(6):
    with cache.batch():
        for i in range(40):
            cache.put_action(action_key("packed", me, run, i), {{"me": me, "run": run, "i": i}})
"""


def test_processes_writing_and_merging_packs_at_once_lose_nothing(tmp_path: Path) -> None:
    script = tmp_path / "packer.py"
    script.write_text(PACK_WRITER.format(root=str(ROOT)))
    procs = [
        subprocess.Popen([sys.executable, str(script), str(tmp_path / "c"), str(n)], stderr=subprocess.PIPE, text=True)
        for n in range(4)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    cache = Cache(tmp_path / "c")
    for me in range(4):
        for run in range(6):
            for i in range(40):
                assert cache.get_action(action_key("packed", me, run, i)) == {"me": me, "run": run, "i": i}
    assert cache.session.corrupt == 0


def test_the_later_result_under_a_key_wins_loose_or_packed(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "c")
    key = action_key("flaky")
    cache.put_action(key, {"outcome": "passed"})  # a small run: a loose entry
    time.sleep(0.01)
    with cache.batch():  # a big run: the same key failed this time
        cache.put_action(key, {"outcome": "failed"})
        for i in range(10):
            cache.put_action(action_key("filler", i), {"i": i})
    assert not (tmp_path / "c" / "ac" / key[:2] / key).exists()  # the older loose entry is gone
    assert Cache(tmp_path / "c").get_action(key) == {"outcome": "failed"}
    time.sleep(0.01)
    with cache.batch():  # a later pack whose name may sort first: still the later made wins
        cache.put_action(key, {"outcome": "passed", "run": 3})
        for i in range(10):
            cache.put_action(action_key("more", i), {"i": i})
    assert Cache(tmp_path / "c").get_action(key) == {"outcome": "passed", "run": 3}


def test_merging_keeps_the_latest_within_its_size_and_leaves_foreign_files(tmp_path: Path) -> None:
    from helper.cache_packs import MAX_PACKS

    folder = tmp_path / "c" / "ac" / "pk"
    folder.mkdir(parents=True)
    foreign = folder / ("f" * 64 + ".pack")
    foreign.write_bytes(b"help-pack 9\nfrom a later version\n")
    cache = Cache(tmp_path / "c", max_bytes=8 * 40 * 250)  # merged packs keep max_bytes // 8
    keys = []
    for run in range(MAX_PACKS + 1):
        with cache.batch():
            for i in range(40):
                keys.append(action_key("merge", run, i))
                cache.put_action(keys[-1], {"run": run, "i": i})
        time.sleep(0.002)
    packs = sorted(folder.glob("*.pack"))
    assert foreign in packs and len(packs) <= MAX_PACKS, packs  # merged once at least; the foreign file kept
    fresh = Cache(tmp_path / "c")
    found = [k for k in keys if fresh.get_action(k) is not None]
    assert found and len(found) < len(keys)
    assert found == keys[len(keys) - len(found) :]  # the latest made are the ones kept
    assert fresh.session.corrupt == 0


def test_ctrl_c_stays_ctrl_c_when_the_pack_cannot_be_written(tmp_path: Path) -> None:
    import pytest

    (tmp_path / "c" / "ac").mkdir(parents=True)
    (tmp_path / "c" / "ac" / "pk").write_text("a file where the packs' folder should be")
    cache = Cache(tmp_path / "c")
    with pytest.raises(KeyboardInterrupt), cache.batch():
        for i in range(20):
            cache.put_action(action_key("lost", i), {"i": i})
        raise KeyboardInterrupt
    with pytest.raises(OSError), cache.batch():  # without an interruption the failure is reported
        for i in range(20):
            cache.put_action(action_key("lost", i), {"i": i})
