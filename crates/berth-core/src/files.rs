//! Reading the files a stack file names (env files, object files, public
//! keys). A stack file is untrusted input (whoever opens a pull request
//! controls it, and its plan is posted publicly), so a path it names must
//! resolve, symlinks followed, inside the stack file's folder or a folder the
//! user allowed with `--allow-path`; it must be a regular file; and it is read
//! with a size bound. All of this is checked before a byte is read.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Largest object file (env file or other upload) berth reads. ECS documents
/// no size limit for env files ("Amazon ECS doesn't enforce a size limit on
/// the environment variables", <https://docs.aws.amazon.com/AmazonECS/latest/developerguide/use-environment-file.html>),
/// so this is berth's own bound: far above any real env file, far below what
/// would hurt when the content is held, diffed and hashed in memory.
pub const MAX_OBJECT_FILE_BYTES: u64 = 1024 * 1024;

/// Largest public key file: an OpenSSH RSA-16384 key is under 3 KiB.
pub const MAX_PUBLIC_KEY_BYTES: u64 = 16 * 1024;

/// Why a named file was not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    /// What is wrong, for the diagnostic's message.
    pub message: String,
    /// How to fix it.
    pub help: String,
}

impl FileError {
    fn new(message: String, help: impl Into<String>) -> FileError {
        FileError { message, help: help.into() }
    }
}

/// Where the files of one stack may be read from.
#[derive(Debug, Clone)]
pub struct FileAccess {
    /// The stack file's folder, absolute.
    base: PathBuf,
    /// Folders files may resolve into: the stack's and those of `--allow-path`,
    /// each as written (absolute) and canonical.
    roots: Vec<PathBuf>,
}

impl FileAccess {
    /// Access to `stack_dir` and to the folders `allowed`.
    pub fn new(stack_dir: &Path, allowed: &[PathBuf]) -> FileAccess {
        let absolute = |p: &Path| std::path::absolute(p).map(|p| lexical(&p)).unwrap_or_else(|_| p.to_path_buf());
        let base = absolute(stack_dir);
        let mut roots = Vec::new();
        for dir in std::iter::once(stack_dir).chain(allowed.iter().map(PathBuf::as_path)) {
            roots.push(absolute(dir));
            roots.extend(std::fs::canonicalize(dir));
        }
        FileAccess { base, roots }
    }

    /// Reads `relative` (relative to the stack file's folder) as UTF-8 text of
    /// at most `limit` bytes, or says why not.
    pub fn read(&self, relative: &str, limit: u64) -> Result<String, FileError> {
        let joined = lexical(&self.base.join(relative));
        // Refused before touching the file system, so that errors do not even
        // tell whether a file outside exists.
        if !self.permits(&joined) {
            return Err(self.outside(relative, ""));
        }
        let resolved = std::fs::canonicalize(&joined).map_err(|e| {
            FileError::new(format!("cannot read `{relative}`: {e}"), "paths are relative to the stack file")
        })?;
        if !self.permits(&resolved) {
            return Err(self.outside(relative, &format!(" (it resolves to `{}`)", resolved.display())));
        }
        read_regular(&resolved, relative, limit)
    }

    fn permits(&self, path: &Path) -> bool {
        self.roots.iter().any(|root| path.starts_with(root))
    }

    fn outside(&self, relative: &str, resolution: &str) -> FileError {
        FileError::new(
            format!("`{relative}` is outside the stack's folder{resolution}"),
            format!("keep the file under {}, or allow its folder with --allow-path DIR", self.base.display()),
        )
    }
}

/// `path` with `.` and `..` components removed without reading the file system.
fn lexical(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// Reads `path` (shown as `shown`) as UTF-8 text of at most `limit` bytes,
/// refusing anything but a regular file before opening it for reading.
pub fn read_regular(path: &Path, shown: &str, limit: u64) -> Result<String, FileError> {
    let failed =
        |e: std::io::Error| FileError::new(format!("cannot read `{shown}`: {e}"), "check the path and its permissions");
    // Checked before opening: opening a FIFO blocks and a device never ends.
    let metadata = std::fs::metadata(path).map_err(failed)?;
    check_regular(shown, &metadata, limit)?;
    let file = open_no_block(path).map_err(failed)?;
    // The path may have been swapped between the check and the open: check what was opened.
    check_regular(shown, &file.metadata().map_err(failed)?, limit)?;
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes).map_err(failed)?;
    if bytes.len() as u64 > limit {
        return Err(too_big(shown, limit));
    }
    String::from_utf8(bytes)
        .map_err(|_| FileError::new(format!("`{shown}` is not UTF-8 text"), "berth reads text files; save it as UTF-8"))
}

fn check_regular(relative: &str, metadata: &std::fs::Metadata, limit: u64) -> Result<(), FileError> {
    if !metadata.is_file() {
        return Err(FileError::new(
            format!("`{relative}` is {}, not a regular file", describe_type(metadata)),
            "name a regular file",
        ));
    }
    if metadata.len() > limit {
        return Err(too_big(relative, limit));
    }
    Ok(())
}

fn too_big(relative: &str, limit: u64) -> FileError {
    FileError::new(
        format!("`{relative}` is larger than {} KiB, the most berth reads for this kind of file", limit / 1024),
        "split or shorten the file",
    )
}

fn describe_type(metadata: &std::fs::Metadata) -> &'static str {
    let kind = metadata.file_type();
    if kind.is_dir() {
        return "a directory";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return "a FIFO";
        }
        if kind.is_socket() {
            return "a socket";
        }
        if kind.is_block_device() || kind.is_char_device() {
            return "a device";
        }
    }
    "a special file"
}

/// Opens for reading without blocking on a FIFO and without following a
/// symlink put in place after the path was resolved.
fn open_no_block(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW);
    }
    options.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (tempfile::TempDir, FileAccess) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("stack")).unwrap();
        std::fs::create_dir(dir.path().join("stack/env")).unwrap();
        std::fs::write(dir.path().join("stack/env/prod.env"), "A=1\n").unwrap();
        std::fs::write(dir.path().join("outside.env"), "SECRET=1\n").unwrap();
        let access = FileAccess::new(&dir.path().join("stack"), &[]);
        (dir, access)
    }

    #[test]
    fn a_file_inside_is_read() {
        let (_dir, access) = setup();
        assert_eq!(access.read("env/prod.env", 100).unwrap(), "A=1\n");
        assert_eq!(access.read("./env/../env/prod.env", 100).unwrap(), "A=1\n");
    }

    #[test]
    fn paths_outside_are_refused() {
        let (_dir, access) = setup();
        for path in ["../outside.env", "/etc/passwd", "/proc/self/environ"] {
            let err = access.read(path, MAX_OBJECT_FILE_BYTES).unwrap_err();
            assert!(err.message.contains("outside the stack's folder"), "{path}: {err:?}");
            assert!(err.help.contains("--allow-path"), "{err:?}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_out_is_refused_and_allow_path_admits_its_target() {
        let (dir, access) = setup();
        std::os::unix::fs::symlink(dir.path().join("outside.env"), dir.path().join("stack/env/link.env")).unwrap();
        let err = access.read("env/link.env", 100).unwrap_err();
        assert!(err.message.contains("resolves to"), "{err:?}");
        let allowed = FileAccess::new(&dir.path().join("stack"), &[dir.path().to_path_buf()]);
        assert_eq!(allowed.read("env/link.env", 100).unwrap(), "SECRET=1\n");
        assert_eq!(allowed.read("../outside.env", 100).unwrap(), "SECRET=1\n");
    }

    #[cfg(unix)]
    #[test]
    fn special_files_are_refused_without_blocking() {
        let (dir, _) = setup();
        let fifo = dir.path().join("stack/env/fifo.env");
        // mkfifo(1), not libc::mkfifo: the workspace forbids unsafe code.
        let made = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
        assert!(made.success());
        let access = FileAccess::new(&dir.path().join("stack"), &[PathBuf::from("/dev")]);
        let err = access.read("env/fifo.env", 100).unwrap_err();
        assert!(err.message.contains("a FIFO, not a regular file"), "{err:?}");
        let err = access.read("/dev/zero", 100).unwrap_err();
        assert!(err.message.contains("a device"), "{err:?}");
        let err = access.read("env", 100).unwrap_err();
        assert!(err.message.contains("a directory"), "{err:?}");
    }

    #[test]
    fn a_file_above_the_limit_is_refused() {
        let (dir, access) = setup();
        std::fs::write(dir.path().join("stack/big.env"), vec![b'a'; 2049]).unwrap();
        let err = access.read("big.env", 2048).unwrap_err();
        assert!(err.message.contains("larger than 2 KiB"), "{err:?}");
        assert!(access.read("big.env", 4096).is_ok());
    }

    #[test]
    fn a_missing_file_outside_is_refused_as_outside() {
        let (_dir, access) = setup();
        let err = access.read("../../no-such-dir/outside.env", 100).unwrap_err();
        assert!(err.message.contains("outside the stack's folder"), "{err:?}");
    }

    #[test]
    fn a_missing_file_says_so() {
        let (_dir, access) = setup();
        let err = access.read("env/none.env", 100).unwrap_err();
        assert!(err.message.contains("cannot read `env/none.env`"), "{err:?}");
    }
}
