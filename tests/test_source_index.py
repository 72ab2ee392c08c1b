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
