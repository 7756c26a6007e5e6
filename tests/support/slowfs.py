#!/usr/bin/env python3
"""A passthrough FUSE filesystem whose disk can stall: the end-to-end tests' slow disk.

usage: slowfs.py ROOT MOUNTPOINT CONTROL

Every operation on MOUNTPOINT is done on ROOT. When the file CONTROL exists, the next write()
takes it (deletes it) and first sleeps as many seconds as it holds: one write stalls, as on a
disk that stops answering for a while. Runs in the foreground, multithreaded (other operations
go on during a stall), until it is unmounted. Uses fusepy (Debian's python3-fusepy, whose
module is `fusepy`; from PyPI it is `fuse`).
"""
import os
import sys
import threading
import time

try:
    from fusepy import FUSE, Operations  # Debian's python3-fusepy
except ImportError:
    from fuse import FUSE, Operations  # fusepy from PyPI


class SlowFs(Operations):
    def __init__(self, root, control):
        self.root = root
        self.control = control
        self.taking = threading.Lock()  # not `lock`: an Operations method

    def _path(self, path):
        return os.path.join(self.root, path.lstrip("/"))

    def _stall(self):
        """Seconds the current write must wait: taken once from CONTROL."""
        with self.taking:
            try:
                with open(self.control) as f:
                    seconds = float(f.read().strip() or 0)
                os.unlink(self.control)
            except (OSError, ValueError):
                return 0.0
        print(f"slowfs: a write stalls for {seconds} s", file=sys.stderr, flush=True)
        return seconds

    # Metadata.
    def access(self, path, mode):
        if not os.access(self._path(path), mode):
            raise OSError(13, "Permission denied")

    def getattr(self, path, fh=None):
        st = os.lstat(self._path(path))
        keys = ("st_mode", "st_nlink", "st_uid", "st_gid", "st_size",
                "st_atime", "st_mtime", "st_ctime")
        return {k: getattr(st, k) for k in keys}

    def chmod(self, path, mode):
        os.chmod(self._path(path), mode)

    def chown(self, path, uid, gid):
        os.chown(self._path(path), uid, gid)

    def utimens(self, path, times=None):
        os.utime(self._path(path), times)

    def statfs(self, path):
        st = os.statvfs(self._path(path))
        keys = ("f_bavail", "f_bfree", "f_blocks", "f_bsize", "f_favail",
                "f_ffree", "f_files", "f_flag", "f_frsize", "f_namemax")
        return {k: getattr(st, k) for k in keys}

    # Folders.
    def readdir(self, path, fh):
        return [".", ".."] + os.listdir(self._path(path))

    def mkdir(self, path, mode):
        os.mkdir(self._path(path), mode)

    def rmdir(self, path):
        os.rmdir(self._path(path))

    def unlink(self, path):
        os.unlink(self._path(path))

    def rename(self, old, new):
        os.rename(self._path(old), self._path(new))

    # Files.
    def create(self, path, mode, fi=None):
        return os.open(self._path(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)

    def open(self, path, flags):
        return os.open(self._path(path), flags)

    def read(self, path, size, offset, fh):
        return os.pread(fh, size, offset)

    def write(self, path, data, offset, fh):
        stall = self._stall()
        if stall > 0:
            time.sleep(stall)
        return os.pwrite(fh, data, offset)

    def truncate(self, path, length, fh=None):
        if fh is None:
            os.truncate(self._path(path), length)
        else:
            os.ftruncate(fh, length)

    def flush(self, path, fh):
        return 0

    def fsync(self, path, datasync, fh):
        if datasync:
            os.fdatasync(fh)
        else:
            os.fsync(fh)

    def release(self, path, fh):
        os.close(fh)


if __name__ == "__main__":
    root, mountpoint, control = sys.argv[1:4]
    FUSE(SlowFs(root, control), mountpoint, foreground=True, nothreads=False,
         big_writes=True, max_write=131072)
