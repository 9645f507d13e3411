"""analysis.locks.exclusive_lock: the one cross-process lock of the runner's manifest and the results cache."""
import fcntl

import pytest

from analysis.locks import exclusive_lock


def _try_lock(path):
    """True when another open file description can take the lock at once (flock locks are per open file)."""
    with open(path, "a+b") as other:
        try:
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True


def test_lock_excludes_others_while_held_and_is_released_after(tmp_path):
    lock = tmp_path / "sub" / ".entry.lock"
    with exclusive_lock(lock):
        assert lock.is_file()                     # created with its folder
        assert not _try_lock(lock)
    assert _try_lock(lock)


def test_lock_released_when_the_block_raises(tmp_path):
    lock = tmp_path / ".x.lock"
    with pytest.raises(KeyError):
        with exclusive_lock(lock):
            raise KeyError("x")
    assert _try_lock(lock)


def test_unlockable_file_raises_unless_best_effort(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    lock = blocker / ".entry.lock"               # its folder would be a regular file: cannot be created
    with pytest.raises(OSError):
        with exclusive_lock(lock):
            pass
    ran = []
    with exclusive_lock(lock, best_effort=True):
        ran.append(True)
    assert ran == [True]
    with exclusive_lock(None):                   # no cache directory: no lock at all
        ran.append(True)
    assert ran == [True, True]
