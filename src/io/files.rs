//! The file system side of saving and loading: reading regular files only, without ever
//! blocking, and replacing a file atomically, the way careful tools do.
//!
//! ```text
//! load:  open(path, O_NONBLOCK | O_NOCTTY);  fstat(fd) is a regular file?;  clear O_NONBLOCK
//! save:  follow the links of path to the target;  dir = open(target's folder)
//!        tmp = openat(dir, ".ferroprop-<random>.tmp", O_CREAT | O_EXCL);  write;
//!        fchown/fchmod as the replaced file;  fsync(tmp);  renameat(dir, tmp, dir, name);
//!        fsync(dir)
//! ```
//!
//! The temporary file is named relative to its folder (by its descriptor where the folder can
//! be opened), with a fixed-length name: whenever the target's path is valid, so is the
//! temporary's, however long the target's name or path.

use crate::{Error, Result};
use std::ffi::OsStr;
use std::fs::{File, Metadata, OpenOptions};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

/// Symbolic links followed, at most, from the path given to `save` (Linux's limit).
const MAX_LINKS: usize = 40;

pub(super) fn io_error(path: &Path, err: std::io::Error) -> Error {
    Error::Io {
        kind: err.kind(),
        msg: format!("{}: {err}", path.display()),
    }
}

// -- reading --------------------------------------------------------------------------------

/// `path` opened for reading, if it is a regular file, with its size. The open does not
/// wait (a FIFO without a writer would block an ordinary one), and the type is checked on
/// the opened descriptor: nothing can swap the file between the check and the reads.
pub(super) fn open_regular(path: &Path) -> Result<(File, u64)> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(
        &mut options,
        libc::O_NONBLOCK | libc::O_NOCTTY,
    );
    let file = options
        .open(path)
        .map_err(|e| match std::fs::metadata(path) {
            // A socket cannot be opened at all: say what it is.
            Ok(m) if !m.is_file() => not_regular(path, &m, ""),
            _ => io_error(path, e),
        })?;
    let meta = file.metadata().map_err(|e| io_error(path, e))?;
    if !meta.is_file() {
        return Err(not_regular(path, &meta, ""));
    }
    #[cfg(unix)]
    blocking(&file).map_err(|e| io_error(path, e))?;
    Ok((file, meta.len()))
}

/// Clears `O_NONBLOCK`, which was there for the open only.
#[cfg(unix)]
fn blocking(file: &File) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let fd = file.as_raw_fd();
    // SAFETY: fcntl reads the flags of a descriptor that `file` keeps open.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    // SAFETY: as above, and sets them; no memory is passed.
    if flags == -1 || unsafe { libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) } == -1 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// What a file that is not a regular one is, for messages.
fn file_kind(meta: &Metadata) -> &'static str {
    let t = meta.file_type();
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a named pipe (FIFO)";
        } else if t.is_char_device() {
            return "a character device";
        } else if t.is_block_device() {
            return "a block device";
        } else if t.is_socket() {
            return "a socket";
        }
    }
    match t.is_dir() {
        true => "a folder",
        false => "a special file",
    }
}

/// `IsADirectoryError` for a folder, a plain `OSError` for the other kinds.
fn not_regular(path: &Path, meta: &Metadata, consequence: &str) -> Error {
    Error::Io {
        kind: match meta.is_dir() {
            true => ErrorKind::IsADirectory,
            false => ErrorKind::InvalidInput,
        },
        msg: format!(
            "{}: is {}, not a regular file{consequence}",
            path.display(),
            file_kind(meta)
        ),
    }
}

// -- writing --------------------------------------------------------------------------------

/// Replaces the file `path` leads to by `bytes`, atomically.
///
/// A symbolic link at `path` is followed to the file it names, which is replaced (the link
/// stays a link; a dangling link gets its target created). The bytes go to a new file with a
/// random name of fixed length in that file's folder, which gets the replaced file's owner
/// (where allowed) and mode (a new file gets the mode the umask gives), is synced, and is
/// renamed over the target; then the folder is synced. Anything there that is not a regular
/// file (a folder, a FIFO, a device) is refused and left alone.
pub(super) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    check_names_a_file(path)?;
    let target = resolve_links(path)?;
    let fail = |e: std::io::Error| match target.as_path() == path {
        true => io_error(path, e),
        false => io_error(
            Path::new(&format!(
                "{} (a link to {})",
                path.display(),
                target.display()
            )),
            e,
        ),
    };
    // A link to "name/" or ".." names a folder, whatever is there.
    let name = match target.file_name() {
        Some(name) if check_names_a_file(&target).is_ok() => name,
        _ => return Err(fail(ErrorKind::IsADirectory.into())),
    };
    let existing = match std::fs::symlink_metadata(&target) {
        Ok(m) if m.is_file() => Some(m),
        Ok(m) => return Err(not_regular(path, &m, "; it is left as it is")),
        Err(e) if e.kind() == ErrorKind::NotFound => None,
        Err(e) => return Err(fail(e)),
    };
    let dir = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let folder = Folder::open(dir);
    let (tmp, mut file) = create_temp(&folder, existing.is_some()).map_err(fail)?;
    let mut renamed = false;
    let written = (|| {
        std::io::Write::write_all(&mut file, bytes)?;
        if let Some(old) = &existing {
            keep_owner_and_mode(&file, old)?;
        }
        file.sync_all()?;
        folder.rename(&tmp, name)?;
        renamed = true;
        folder.sync()
    })();
    if !renamed {
        let _ = folder.remove(&tmp);
    }
    written.map_err(fail)
}

/// Refuses a path whose last component is not a name (empty, `.` or `..`, or a trailing
/// separator), which the file system would take for a folder.
fn check_names_a_file(path: &Path) -> Result<()> {
    let text = path.as_os_str().to_string_lossy();
    let last = text.rsplit(std::path::is_separator).next().unwrap_or("");
    if matches!(last, "" | "." | "..") {
        return Err(Error::value(
            "path",
            format!("must name a file, got {:?}", path.display().to_string()),
        ));
    }
    Ok(())
}

/// `path` with its symbolic links followed, as far as they lead: the file a write through
/// `path` would reach (which may not exist yet). Links in the folders above stay as they
/// are: a rename through them reaches the same folder.
fn resolve_links(path: &Path) -> Result<PathBuf> {
    let mut current = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        match std::fs::symlink_metadata(&current) {
            Ok(m) if m.file_type().is_symlink() => {
                let target = std::fs::read_link(&current).map_err(|e| io_error(path, e))?;
                // A relative target is relative to the link's folder.
                current = current.parent().unwrap_or(Path::new("")).join(target);
            }
            Ok(_) => return Ok(current),
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(current),
            Err(e) => return Err(io_error(path, e)),
        }
    }
    // The system says why (a loop, too many links) in its own words.
    let err = std::fs::metadata(path)
        .err()
        .unwrap_or_else(|| std::io::Error::other("too many levels of symbolic links"));
    Err(io_error(path, err))
}

/// A new file in `folder` with a free random name of fixed length; created readable by its
/// owner only when `private`, since it gets its final mode only once written.
fn create_temp(folder: &Folder, private: bool) -> std::io::Result<(PathBuf, File)> {
    use std::hash::{BuildHasher, Hasher};
    let mut taken = None;
    for attempt in 0..16u32 {
        // std's RandomState is seeded from the system's randomness; the process id tells a
        // forked child's names from its parent's.
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u32(std::process::id());
        h.write_u32(attempt);
        let name = PathBuf::from(format!(".ferroprop-{:016x}.tmp", h.finish()));
        match folder.create(&name, private) {
            Ok(file) => return Ok((name, file)),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => taken = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(taken.expect("the loop ran"))
}

/// Gives `file` the mode of the file it replaces, and its owner where the system allows it
/// (root, or a group of the user's); otherwise the new file is the user's, as a new one is.
#[cfg(unix)]
fn keep_owner_and_mode(file: &File, old: &Metadata) -> std::io::Result<()> {
    use std::os::unix::fs::{fchown, MetadataExt, PermissionsExt};
    if fchown(file, Some(old.uid()), Some(old.gid())).is_err() {
        let _ = fchown(file, None, Some(old.gid()));
    }
    // After the owner: changing it may clear the set-id bits.
    file.set_permissions(std::fs::Permissions::from_mode(old.mode() & 0o7777))
}

#[cfg(not(unix))]
fn keep_owner_and_mode(file: &File, old: &Metadata) -> std::io::Result<()> {
    file.set_permissions(old.permissions())
}

/// The folder of the target: its descriptor where it can be opened (the calls are then
/// relative to it, so that the length of its path does not matter and it cannot be swapped
/// between them), its path otherwise (a folder that can be written but not read).
struct Folder {
    path: PathBuf,
    #[cfg(unix)]
    fd: Option<File>,
}

#[cfg(unix)]
fn c_name(name: &Path) -> std::io::Result<std::ffi::CString> {
    use std::os::unix::ffi::OsStrExt;
    std::ffi::CString::new(name.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::new(ErrorKind::InvalidInput, "a file name holds a NUL byte"))
}

/// `Ok` unless `result` is -1, then the system's error.
#[cfg(unix)]
fn check(result: libc::c_int) -> std::io::Result<libc::c_int> {
    match result {
        -1 => Err(std::io::Error::last_os_error()),
        fd => Ok(fd),
    }
}

impl Folder {
    fn open(path: &Path) -> Folder {
        #[cfg(unix)]
        let fd = {
            let mut options = OpenOptions::new();
            options.read(true);
            std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_DIRECTORY);
            options.open(path).ok()
        };
        Folder {
            path: path.to_path_buf(),
            #[cfg(unix)]
            fd,
        }
    }

    /// A new file `name`, which must not exist (links are not followed).
    fn create(&self, name: &Path, private: bool) -> std::io::Result<File> {
        let mode = if private { 0o600 } else { 0o666 };
        #[cfg(unix)]
        if let Some(dir) = &self.fd {
            use std::os::fd::{AsRawFd, FromRawFd};
            let name = c_name(name)?;
            let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_CLOEXEC;
            // SAFETY: `name` is a NUL-terminated string that outlives the call, `dir` an open
            // descriptor; the mode is the variadic argument O_CREAT reads.
            let fd = check(unsafe {
                libc::openat(dir.as_raw_fd(), name.as_ptr(), flags, mode as libc::c_uint)
            })?;
            // SAFETY: `fd` was just opened and is owned by nothing else.
            return Ok(unsafe { File::from_raw_fd(fd) });
        }
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
        #[cfg(not(unix))]
        let _ = mode;
        options.open(self.path.join(name))
    }

    /// Renames `from` to `to`, both in this folder, replacing `to`.
    fn rename(&self, from: &Path, to: &OsStr) -> std::io::Result<()> {
        #[cfg(unix)]
        if let Some(dir) = &self.fd {
            use std::os::fd::AsRawFd;
            let (from, to) = (c_name(from)?, c_name(Path::new(to))?);
            let fd = dir.as_raw_fd();
            // SAFETY: both names are NUL-terminated strings that outlive the call.
            check(unsafe { libc::renameat(fd, from.as_ptr(), fd, to.as_ptr()) })?;
            return Ok(());
        }
        std::fs::rename(self.path.join(from), self.path.join(to))
    }

    fn remove(&self, name: &Path) -> std::io::Result<()> {
        #[cfg(unix)]
        if let Some(dir) = &self.fd {
            use std::os::fd::AsRawFd;
            let name = c_name(name)?;
            // SAFETY: `name` is a NUL-terminated string that outlives the call.
            check(unsafe { libc::unlinkat(dir.as_raw_fd(), name.as_ptr(), 0) })?;
            return Ok(());
        }
        std::fs::remove_file(self.path.join(name))
    }

    /// Makes a rename durable. A folder that could not be opened, or whose file system does
    /// not sync folders, is left as it is: the rename has happened either way.
    fn sync(&self) -> std::io::Result<()> {
        #[cfg(unix)]
        if let Some(dir) = &self.fd {
            match dir.sync_all() {
                Err(e) if !matches!(e.kind(), ErrorKind::InvalidInput | ErrorKind::Unsupported) => {
                    return Err(e)
                }
                _ => {}
            }
        }
        Ok(())
    }
}
