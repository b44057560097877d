//! The gateway's wasmtime host of the Passcode component: one compiled component, an
//! instance per worker thread (as Envoy runs one VM per worker), each call held to a deadline
//! and each instance to a memory cap, so a runaway guest cannot stall or exhaust a worker.
//!
//! The component's imports (the shared `store`, the key reader, the wall clock and random)
//! are `passcode-wasmtime-host`'s context, view and `add_to_linker`, which any wasmtime
//! embedder can reuse without the gateway; this module is the worker side: compiling once,
//! instantiating per worker, the epoch ticker and deadlines, closing an engine.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use passcode_core::Store as CoreStore;
use passcode_wasmtime_host::{add_to_linker, PasscodeCtx, PasscodeCtxBuilder, PasscodeView};
use wasmtime::component::{Component, Linker, ResourceAny};
use wasmtime::error::Context as _;
use wasmtime::{ResourceLimiter, Trap};

pub use passcode_wasmtime_host::{
    attempts_left, bindings, error_name, error_number, retry_after, Channel, EngineError, HostClock, IssueRequest,
    Issued, LimitScope, Message, Purpose, Verified,
};

/// How long one call into the component may run before it is stopped (a trap for that call;
/// the worker then opens a new instance). A verify takes microseconds and an issue of the
/// first SMS code, which parses libphonenumber's metadata, milliseconds: this bound is for a
/// guest that loops. The time spent in the imports counts too, so it leaves room for a store
/// that reconnects on each of a call's two round trips (Redis: 1 s to connect, 0.5 s a
/// command) and for a loaded machine.
pub const DEFAULT_CALL_DEADLINE: Duration = Duration::from_secs(5);

/// How often the host's ticker advances the engine's epoch: the granularity of deadlines.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// The most linear memory one instance may grow to (the engine uses a few MiB).
pub const DEFAULT_MAX_MEMORY: usize = 256 << 20;

/// Builds a [`ComponentHost`]: what the guest may reach, and its limits.
pub struct HostBuilder {
    wasm: PathBuf,
    compiled: Option<Compiled>,
    imports: PasscodeCtxBuilder,
    deadline: Option<Duration>,
    max_memory: usize,
}

impl HostBuilder {
    /// The shared store (default: a new `passcode_core::MemoryStore`).
    pub fn store(mut self, store: Arc<dyn CoreStore>) -> Self {
        self.imports = self.imports.store(store);
        self
    }

    /// The wall clock (default: the system clock).
    pub fn clock(mut self, clock: HostClock) -> Self {
        self.imports = self.imports.clock(clock);
        self
    }

    /// A variable the key reader answers for a ring key's `env` entry of this name. The
    /// guest never sees an environment: the host reads the key and hands its bytes over.
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.imports = self.imports.env(name, value);
        self
    }

    /// A folder the key reader may read a ring key's `file` entry from (an absolute path
    /// under it, without `..`). The guest never sees a filesystem.
    pub fn read_only_dir(mut self, dir: &Path) -> Self {
        self.imports = self.imports.read_only_dir(dir);
        self
    }

    /// How long one call may run ([`DEFAULT_CALL_DEADLINE`]); `None` compiles the component
    /// without epoch checks (for measuring what they cost). Fixed when the component is
    /// compiled: a [`ComponentHost::rebuild`] keeps its host's.
    pub fn call_deadline(mut self, deadline: Option<Duration>) -> Self {
        self.deadline = deadline;
        self
    }

    /// The most linear memory an instance may grow to ([`DEFAULT_MAX_MEMORY`]): past it the
    /// guest's allocation fails, which traps that call.
    pub fn max_memory(mut self, bytes: usize) -> Self {
        self.max_memory = bytes;
        self
    }

    /// Compiles the component (unless this builder came from [`ComponentHost::rebuild`]).
    pub fn build(self) -> wasmtime::Result<ComponentHost> {
        let compiled = match self.compiled {
            Some(compiled) => compiled,
            None => Compiled::new(&self.wasm, self.deadline)?,
        };
        Ok(ComponentHost { compiled, imports: self.imports.build(), max_memory: self.max_memory })
    }
}

/// The engine, the component linked to its imports, and the epoch ticker with the deadline in
/// ticks. Clones share them (a rebuilt host does not compile again).
#[derive(Clone)]
struct Compiled {
    engine: wasmtime::Engine,
    pre: bindings::PasscodePre<WorkerState>,
    deadline: Option<(Duration, u64)>,
    _ticker: Option<Arc<EpochTicker>>,
}

impl Compiled {
    fn new(wasm: &Path, deadline: Option<Duration>) -> wasmtime::Result<Compiled> {
        let mut config = wasmtime::Config::new();
        config.epoch_interruption(deadline.is_some());
        let engine = wasmtime::Engine::new(&config)?;
        let component = Component::from_file(&engine, wasm)
            .with_context(|| format!("cannot load the component {}\nBuild it with: {BUILD_COMMAND}", wasm.display()))?;
        // Exactly the world's imports: a component that wanted more would fail to link here.
        let mut linker: Linker<WorkerState> = Linker::new(&engine);
        add_to_linker(&mut linker, |s: &mut WorkerState| PasscodeView::new(&s.imports))?;
        let pre = linker.instantiate_pre(&component).context("linking the component to its world's imports")?;
        let pre = bindings::PasscodePre::new(pre).context("finding the component's exports")?;
        let ticker = deadline.map(|_| Arc::new(EpochTicker::start(engine.clone())));
        let deadline = deadline.map(|d| (d, d.as_nanos().div_ceil(EPOCH_TICK.as_nanos()) as u64));
        Ok(Compiled { engine, pre, deadline, _ticker: ticker })
    }
}

/// A thread that advances the engine's epoch every [`EPOCH_TICK`] until dropped: the clock of
/// the deadlines (the epoch check compiled into the guest is a load and a compare).
struct EpochTicker {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl EpochTicker {
    fn start(engine: wasmtime::Engine) -> EpochTicker {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("passcode-epoch".into())
            .spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(EPOCH_TICK) {
                    engine.increment_epoch();
                }
            })
            .ok();
        EpochTicker { stop: Some(stop), thread }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        // Dropping the sender ends the loop at once.
        self.stop.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The compiled component and what every instance shares: the imports' context (store,
/// clock, key sources) and the limits. Cheap to share between threads (`Arc`).
pub struct ComponentHost {
    compiled: Compiled,
    imports: PasscodeCtx,
    max_memory: usize,
}

impl ComponentHost {
    /// A builder for the component at `wasm`.
    pub fn builder(wasm: &Path) -> HostBuilder {
        HostBuilder {
            wasm: wasm.to_path_buf(),
            compiled: None,
            imports: PasscodeCtxBuilder::new(),
            deadline: Some(DEFAULT_CALL_DEADLINE),
            max_memory: DEFAULT_MAX_MEMORY,
        }
    }

    /// A builder for another host of the same compiled component (no second compilation, the
    /// same deadline), starting with a new memory store, the system clock, and no key
    /// variable or folder.
    pub fn rebuild(&self) -> HostBuilder {
        HostBuilder {
            wasm: PathBuf::new(),
            compiled: Some(self.compiled.clone()),
            imports: PasscodeCtxBuilder::new(),
            deadline: self.compiled.deadline.map(|(d, _)| d),
            max_memory: self.max_memory,
        }
    }

    /// The names of everything the component imports (`wasi:clocks/wall-clock@0.2.x`, ...).
    pub fn imports(&self) -> Vec<String> {
        let ty = self.compiled.pre.instance_pre().component().component_type();
        ty.imports(&self.compiled.engine).map(|(name, _)| name.to_string()).collect()
    }

    /// The clock every instance reads.
    pub fn clock(&self) -> &HostClock {
        self.imports.clock()
    }

    /// The store every instance shares.
    pub fn shared_store(&self) -> &Arc<dyn CoreStore> {
        self.imports.store()
    }

    /// A fresh instance, with no engine opened yet (for one worker thread).
    pub fn instantiate(&self) -> wasmtime::Result<Worker> {
        let state = WorkerState { imports: self.imports.clone(), memory: MemoryCap { max: self.max_memory, peak: 0 } };
        let mut store = wasmtime::Store::new(&self.compiled.engine, state);
        store.limiter(|s| &mut s.memory);
        let deadline = self.compiled.deadline;
        // With epochs on, a new store's deadline has already passed: set it before any guest
        // code runs, instantiation included.
        if let Some((_, ticks)) = deadline {
            store.set_epoch_deadline(ticks);
        }
        let bindings = self.compiled.pre.instantiate(&mut store).map_err(|e| past_deadline(e, deadline))?;
        Ok(Worker { store, bindings, engine: None, deadline })
    }

    /// A fresh instance with an engine opened from `config`: the outer `Err` is a trap or an
    /// instantiation failure, the inner one the engine's refusal of the config.
    pub fn open(&self, config: &str) -> Result<Result<Worker, EngineError>, wasmtime::Error> {
        let mut worker = self.instantiate()?;
        Ok(worker.open(config)?.map(|()| worker))
    }
}

/// The data of one wasmtime store: the imports' context and the memory cap.
pub struct WorkerState {
    imports: PasscodeCtx,
    memory: MemoryCap,
}

/// Refuses linear memory past the cap, and remembers the most the instance asked for.
struct MemoryCap {
    max: usize,
    peak: usize,
}

impl ResourceLimiter for MemoryCap {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        self.peak = self.peak.max(desired);
        Ok(desired <= self.max)
    }

    fn table_growing(&mut self, _current: usize, _desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(true)
    }
}

/// A call's outcome: the outer `Err` a trap (or a deadline passed), the inner one the
/// engine's answer.
type Call<T> = Result<Result<T, EngineError>, wasmtime::Error>;

/// One component instance in its own wasmtime store, and the engine opened in it, if any:
/// what a worker thread holds (not shared between threads). Dropping it closes the engine.
pub struct Worker {
    store: wasmtime::Store<WorkerState>,
    bindings: bindings::Passcode,
    engine: Option<ResourceAny>,
    deadline: Option<(Duration, u64)>,
}

impl Worker {
    /// Runs `f` under a fresh deadline; a deadline passed becomes an error that says so.
    fn guarded<R>(
        &mut self,
        f: impl FnOnce(&mut wasmtime::Store<WorkerState>, &bindings::Passcode) -> wasmtime::Result<R>,
    ) -> wasmtime::Result<R> {
        if let Some((_, ticks)) = self.deadline {
            self.store.set_epoch_deadline(ticks);
        }
        f(&mut self.store, &self.bindings).map_err(|e| past_deadline(e, self.deadline))
    }

    /// Runs `f` on the open engine.
    fn on_engine<R>(
        &mut self,
        f: impl FnOnce(&mut wasmtime::Store<WorkerState>, &bindings::Passcode, ResourceAny) -> wasmtime::Result<R>,
    ) -> wasmtime::Result<R> {
        let engine = self.engine.context("no engine is open in this worker")?;
        self.guarded(|store, bindings| f(store, bindings, engine))
    }

    /// Opens an engine from `config`, closing the one this worker had.
    pub fn open(&mut self, config: &str) -> Call<()> {
        self.close()?;
        let opened = self.guarded(|store, b| b.passcode_engine_engine().engine().call_open(store, config))?;
        Ok(opened.map(|engine| self.engine = Some(engine)))
    }

    /// Closes the engine, if one is open: its resource is dropped in the instance, so the
    /// guest's destructor runs and frees it.
    pub fn close(&mut self) -> wasmtime::Result<()> {
        match self.engine.take() {
            Some(engine) => self.guarded(|store, _| engine.resource_drop(store)).context("closing the engine"),
            None => Ok(()),
        }
    }

    /// Whether an engine is open.
    pub fn is_open(&self) -> bool {
        self.engine.is_some()
    }

    /// The most linear memory this instance has asked for, in bytes.
    pub fn memory_peak(&self) -> usize {
        self.store.data().memory.peak
    }

    /// Issues a code.
    pub fn issue(&mut self, request: &IssueRequest) -> Call<Issued> {
        self.on_engine(|s, b, e| b.passcode_engine_engine().engine().call_issue(s, e, request))
    }

    /// Verifies a code.
    pub fn verify(&mut self, token: &str, code: &str) -> Call<Verified> {
        self.on_engine(|s, b, e| b.passcode_engine_engine().engine().call_verify(s, e, token, code))
    }

    /// Sends a new code for a live challenge.
    pub fn resend(&mut self, token: &str, client: Option<&str>, locale: Option<&str>) -> Call<Issued> {
        self.on_engine(|s, b, e| b.passcode_engine_engine().engine().call_resend(s, e, token, client, locale))
    }

    /// Cancels a challenge.
    pub fn cancel(&mut self, token: &str) -> Call<()> {
        self.on_engine(|s, b, e| b.passcode_engine_engine().engine().call_cancel(s, e, token))
    }

    /// Unlocks a subject.
    pub fn unlock(&mut self, channel: Channel, identifier: &str) -> Call<()> {
        self.on_engine(|s, b, e| b.passcode_engine_engine().engine().call_unlock(s, e, channel, identifier))
    }

    /// Issues a code with the host's account id as the subject.
    pub fn issue_for_account(&mut self, account: &str, request: &IssueRequest) -> Call<Issued> {
        self.on_engine(|s, b, e| b.passcode_engine_engine().engine().call_issue_for_account(s, e, account, request))
    }

    /// Unlocks an account subject.
    pub fn unlock_account(&mut self, account: &str) -> Call<()> {
        self.on_engine(|s, b, e| b.passcode_engine_engine().engine().call_unlock_account(s, e, account))
    }

    /// The component's stable number for an error (the host's [`error_number`] is the same
    /// match; the tests check they agree).
    pub fn error_number(&mut self, e: &EngineError) -> wasmtime::Result<u32> {
        self.guarded(|s, b| b.passcode_engine_engine().call_error_number(s, e))
    }

    /// The component's stable name for an error.
    pub fn error_name(&mut self, e: &EngineError) -> wasmtime::Result<String> {
        self.guarded(|s, b| b.passcode_engine_engine().call_error_name(s, e))
    }

    /// The component's version.
    pub fn version(&mut self) -> wasmtime::Result<String> {
        self.guarded(|s, b| b.passcode_engine_engine().call_version(s))
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // The store goes with the worker; closing first lets the guest's destructor run. An
        // instance that trapped cannot be entered again, which is fine: it is going anyway.
        let _ = self.close();
    }
}

/// A trap from the epoch deadline, told as what it is; any other error unchanged.
fn past_deadline(e: wasmtime::Error, deadline: Option<(Duration, u64)>) -> wasmtime::Error {
    match (e.downcast_ref::<Trap>(), deadline) {
        (Some(Trap::Interrupt), Some((d, _))) => e.context(format!("the component ran past its {d:?} deadline")),
        _ => e,
    }
}

/// The command that builds the component (`passcode-componentize` builds the guest for
/// wasm32-unknown-unknown, makes it a component and checks its imports).
pub const BUILD_COMMAND: &str = "cargo run --release -p passcode-componentize";

/// Where the component is: `PASSCODE_WASM` if set, else
/// `<target dir>/wasm32-unknown-unknown/release/passcode.wasm`, the target dir being
/// `CARGO_TARGET_DIR` if set, else the workspace's `target/`.
pub fn default_wasm_path() -> PathBuf {
    if let Some(p) = std::env::var_os("PASSCODE_WASM") {
        return PathBuf::from(p);
    }
    // host-examples/envoy-filter -> the workspace root.
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).ancestors().nth(2).unwrap_or(Path::new("."));
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| workspace.join("target"), PathBuf::from);
    target.join("wasm32-unknown-unknown").join("release").join("passcode.wasm")
}

/// The component's path, or a message telling how to build it.
pub fn require_wasm() -> Result<PathBuf, String> {
    let p = default_wasm_path();
    if p.is_file() {
        Ok(p)
    } else {
        Err(format!(
            "the Passcode component is missing at {}.\nBuild it first: {BUILD_COMMAND}\n(or set PASSCODE_WASM to its path)",
            p.display()
        ))
    }
}
