"""The source index behind py-spy's frame names is kept between runs, and a changed file
is indexed again."""
import os

from concadvisor.collect import leafcalls


def fresh(path):
    leafcalls._index.cache_clear()
    leafcalls._RESOLVED.clear()
    return path


def test_an_index_read_back_from_the_cache_names_the_same_functions(tmp_path, monkeypatch):
    monkeypatch.setenv("CONCADVISOR_CACHE_DIR", str(tmp_path / "cache"))
    source = tmp_path / "app.py"
    source.write_text("import time\n\n@staticmethod\ndef wait():\n    time.sleep(1)\n")
    first = leafcalls.def_line(fresh(str(source)), "wait", 5), leafcalls.calls_at(str(source), 5)
    assert any((tmp_path / "cache").rglob("*.marshal"))
    again = leafcalls.def_line(fresh(str(source)), "wait", 5), leafcalls.calls_at(str(source), 5)
    assert first == again == (3, (("time.sleep", "io_wait"),))


def test_a_changed_file_is_indexed_again(tmp_path, monkeypatch):
    monkeypatch.setenv("CONCADVISOR_CACHE_DIR", str(tmp_path / "cache"))
    source = tmp_path / "app.py"
    source.write_text("def work():\n    return 1\n")
    assert leafcalls.def_line(fresh(str(source)), "work", 2) == 1
    source.write_text("# moved down\n\ndef work():\n    return 1\n")
    os.utime(source, ns=(os.stat(source).st_atime_ns, os.stat(source).st_mtime_ns + 10**9))
    assert leafcalls.def_line(fresh(str(source)), "work", 4) == 3


def test_an_unwritable_cache_only_costs_time(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("CONCADVISOR_CACHE_DIR", str(blocker))
    source = tmp_path / "app.py"
    source.write_text("def work():\n    return 1\n")
    assert leafcalls.def_line(fresh(str(source)), "work", 2) == 1


def test_a_function_handed_to_map_sorted_or_filter_is_called_on_that_line(tmp_path):
    """``list(map(hashlib.sha256, blocks))``: the thread runs sha256 on that line, though
    no call of it is written there; without it the line read as pure Python (GIL-held)."""
    from concadvisor.collect.leafcalls import calls_at

    path = tmp_path / "hof.py"
    path.write_text("import hashlib, zlib\n"
                    "digests = list(map(hashlib.sha256, blocks))\n"
                    "order = sorted(names, key=zlib.crc32)\n"
                    "kept = filter(str.isdigit, names)\n")
    assert any(name.endswith("sha256") and category == "cpu_nogil" for name, category in calls_at(str(path), 2))
    assert any(name.endswith("crc32") for name, _ in calls_at(str(path), 3))
    assert any(name.endswith("isdigit") for name, _ in calls_at(str(path), 4))


def test_hashing_through_map_is_gil_free_work_threads_can_share(tmp_path):
    from conftest import profile_json

    script = tmp_path / "digest_all.py"
    script.write_text("import hashlib\n"
                      "block = bytes(range(256)) * 65536\n"
                      "def main():\n"
                      "    digests = list(map(hashlib.sha256, [block] * 24))\n"
                      "    print(len(digests))\n"
                      "main()\n")
    done, data = profile_json(tmp_path, script)
    assert done.returncode == 0, done.stderr[-2000:]
    assert data["categories"]["cpu_nogil"] > 0.5, data["categories"]
