//! Running the built `openhumans` binary, or any helper program, as a child process
//! that is killed when the test ends, passed or failed.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

/// Path of the `openhumans` binary cargo built for these tests.
pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_openhumans")
}

/// Builds a command for the binary with an empty environment, so settings from the
/// shell running the tests cannot leak into a test.
pub fn openhumans(args: &[&str]) -> Command {
    let mut command = Command::new(binary());
    command.env_clear().args(args);
    command
}

/// A running child process. Dropping it sends SIGKILL and reaps the process.
pub struct ChildProcess {
    child: Child,
    name: String,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl ChildProcess {
    /// Starts `command`, sending its output to `NAME.stdout` and `NAME.stderr` in
    /// `log_dir` (files, not pipes, so a chatty child never blocks on a full pipe).
    pub fn spawn(mut command: Command, name: &str, log_dir: &Path) -> ChildProcess {
        let stdout = log_dir.join(format!("{name}.stdout"));
        let stderr = log_dir.join(format!("{name}.stderr"));
        let child = command
            .stdin(Stdio::null())
            .stdout(File::create(&stdout).expect("creating the stdout file"))
            .stderr(File::create(&stderr).expect("creating the stderr file"))
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {name} ({command:?}): {error}"));
        ChildProcess {
            child,
            name: name.to_string(),
            stdout,
            stderr,
        }
    }

    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM, as a service manager does to stop a service.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.id().to_string()])
            .status()
            .expect("running kill");
        assert!(status.success(), "kill -TERM {} failed", self.id());
    }

    /// Sends SIGKILL and reaps the process: a crash that runs no clean-up code.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Returns the exit status if the process has exited.
    pub fn try_status(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().expect("polling the child process")
    }

    /// Waits for the process to exit, failing the test (with the child's output)
    /// after `timeout`.
    pub async fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_status() {
                return status;
            }
            if tokio::time::Instant::now() > deadline {
                panic!(
                    "{} did not exit within {timeout:?}; its output:\n{}",
                    self.name,
                    self.output()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn stdout(&self) -> String {
        std::fs::read_to_string(&self.stdout).unwrap_or_default()
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Standard output then standard error, for failure messages.
    pub fn output(&self) -> String {
        format!("--- stdout\n{}--- stderr\n{}", self.stdout(), self.stderr())
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Returns a TCP port on 127.0.0.1 that was free a moment ago. Another process may take it
/// before the caller binds it, which on a test machine is rare enough to accept.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("binding a free port")
        .port()
}

/// Waits until `url` returns 200, failing the test after `timeout` with the output
/// of `child`.
pub async fn wait_until_serving(child: &mut ChildProcess, url: &str, timeout: Duration) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .expect("building an HTTP client");
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Ok(response) = client.get(url).send().await
            && response.status() == 200
        {
            return;
        }
        if let Some(status) = child.try_status() {
            panic!(
                "{} exited with {status} before serving; its output:\n{}",
                child.name,
                child.output()
            );
        }
        if tokio::time::Instant::now() > deadline {
            panic!(
                "{} did not serve {url} within {timeout:?}; its output:\n{}",
                child.name,
                child.output()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Returns the Python interpreter of the test virtual environment, which
/// `scripts/test` fills with the pinned packages of `scripts/test-requirements.txt`.
/// Fails the test when it is not set: a test that needs Python never skips.
pub fn test_python() -> String {
    std::env::var("OPENHUMANS_TEST_PYTHON").unwrap_or_else(|_| {
        panic!(
            "OPENHUMANS_TEST_PYTHON is not set: run scripts/test, which installs the Python \
             test packages into .venv and sets it"
        )
    })
}

/// Runs `script` with the test virtual environment's Python and `env` added to the
/// environment, and returns its standard output. Fails the test when the script
/// exits non-zero or runs longer than two minutes.
pub async fn run_python_script(script: &str, env: &[(&str, String)]) -> String {
    let python = test_python();
    let mut command = tokio::process::Command::new(&python);
    command.arg(script).kill_on_drop(true);
    for (name, value) in env {
        command.env(name, value);
    }
    let output = tokio::time::timeout(Duration::from_secs(120), command.output())
        .await
        .unwrap_or_else(|_| panic!("{script} did not finish within two minutes"))
        .unwrap_or_else(|error| panic!("starting {python}: {error}"));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{script} failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    stdout
}
