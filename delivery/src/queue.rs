//! The bounded queue and its worker threads: messages leave the request path.
//!
//! A host first [`reserve`](Delivery::reserve)s a place, then issues the code, then hands the
//! message to the [`Slot`] (or drops it, for an account it does not know). Reserving first
//! means a code is never issued that the queue then refuses; and since the same steps run
//! whether or not a message follows, the host's answer takes the same time either way (S16).
//! A full queue refuses at once with `QueueFull` and a count; it never blocks the request.
//!
//! Shutdown closes the queue to new messages, lets the workers drain it until its bound, and
//! then gives up what is left (each with a `Failed` event, reason `shutdown`). A worker caught
//! inside a provider call at that moment finishes the call within its own timeouts, after
//! which it stops.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use passcode_core::{Channel, Clock};

use crate::error::Error;
use crate::events::{Counters, DeliveryEventKind, DeliveryEventSink, DeliveryStats};
use crate::route::{deliver, Detail, Pause, Reporter, RetryPolicy, Sleep};
use crate::sender::{Outgoing, Receipt, Sender};

struct Job {
    message: Outgoing,
    queued_at: Instant,
}

#[derive(Default)]
struct State {
    jobs: VecDeque<Job>,
    reserved: usize,
    closed: bool,
    give_up_at: Option<Instant>,
    workers: usize,
}

/// What the workers and the slots share.
pub(crate) struct Shared {
    state: Mutex<State>,
    /// New work, or shutdown.
    wake: Condvar,
    /// A worker stopped.
    stopped: Condvar,
    capacity: usize,
    email: Vec<Arc<dyn Sender>>,
    sms: Vec<Arc<dyn Sender>>,
    policy: RetryPolicy,
    events: Arc<dyn DeliveryEventSink>,
    clock: Arc<dyn Clock>,
    counters: Counters,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn route(&self, channel: Channel) -> &[Arc<dyn Sender>] {
        match channel {
            Channel::Email => &self.email,
            Channel::Sms => &self.sms,
        }
    }

    fn reporter(&self) -> Reporter<'_> {
        Reporter { sink: self.events.as_ref(), clock: self.clock.as_ref(), counters: &self.counters }
    }
}

/// Waits on the queue's condition, so shutdown can cut a wait short at its bound.
struct QueuePause<'a>(&'a Shared);

impl Pause for QueuePause<'_> {
    fn pause(&self, wait: Duration) -> bool {
        let until = Instant::now() + wait;
        let mut state = self.0.lock();
        loop {
            let now = Instant::now();
            if state.give_up_at.is_some_and(|g| now >= g) {
                return false;
            }
            if now >= until {
                return true;
            }
            let limit = state.give_up_at.map_or(until, |g| g.min(until));
            state = self.0.wake.wait_timeout(state, limit - now).unwrap_or_else(|p| p.into_inner()).0;
        }
    }
}

fn worker(shared: &Shared) {
    loop {
        let job = {
            let mut state = shared.lock();
            loop {
                if let Some(job) = state.jobs.pop_front() {
                    break Some((job, state.give_up_at));
                }
                if state.closed {
                    break None;
                }
                state = shared.wake.wait(state).unwrap_or_else(|p| p.into_inner());
            }
        };
        let Some((job, give_up_at)) = job else { break };
        let report = shared.reporter();
        if give_up_at.is_some_and(|g| Instant::now() >= g) {
            report.emit(
                DeliveryEventKind::Failed,
                &job.message,
                Detail { reason: Some("shutdown"), ..Detail::default() },
            );
            continue;
        }
        let _ = deliver(
            shared.route(job.message.channel),
            &job.message,
            &shared.policy,
            job.queued_at,
            &QueuePause(shared),
            &report,
        );
    }
    let mut state = shared.lock();
    state.workers -= 1;
    shared.stopped.notify_all();
}

/// A place reserved in the queue for one message of one channel. Dropping it unused gives the
/// place back.
pub struct Slot {
    shared: Arc<Shared>,
    used: bool,
}

impl Slot {
    /// Queues the message in the reserved place. Refused only if delivery began shutting down
    /// since the reservation, or if no sender serves the message's channel.
    pub fn send(mut self, message: Outgoing) -> Result<(), Error> {
        if self.shared.route(message.channel).is_empty() {
            return Err(Error::NoSender { channel: message.channel.name() });
        }
        // Queued is reported before the job can reach a worker, so it always comes first.
        let report = self.shared.reporter();
        report.emit(DeliveryEventKind::Queued, &message, Detail::default());
        let mut state = self.shared.lock();
        state.reserved -= 1;
        self.used = true;
        if state.closed {
            drop(state);
            report.emit(DeliveryEventKind::Failed, &message, Detail { reason: Some("shutdown"), ..Detail::default() });
            return Err(Error::Stopped);
        }
        state.jobs.push_back(Job { message, queued_at: Instant::now() });
        drop(state);
        self.shared.wake.notify_one();
        Ok(())
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if !self.used {
            self.shared.lock().reserved -= 1;
        }
    }
}

/// What shutting down did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Messages given up unsent because the bound passed.
    pub abandoned: usize,
    /// Whether every worker had stopped by the bound.
    pub drained: bool,
}

/// The queue, its workers and its routes.
pub(crate) struct Queue {
    shared: Arc<Shared>,
    handles: Mutex<Vec<JoinHandle<()>>>,
}

impl Queue {
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        capacity: usize,
        workers: usize,
        email: Vec<Arc<dyn Sender>>,
        sms: Vec<Arc<dyn Sender>>,
        policy: RetryPolicy,
        events: Arc<dyn DeliveryEventSink>,
        clock: Arc<dyn Clock>,
    ) -> Result<Queue, std::io::Error> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State { workers, ..State::default() }),
            wake: Condvar::new(),
            stopped: Condvar::new(),
            capacity,
            email,
            sms,
            policy,
            events,
            clock,
            counters: Counters::default(),
        });
        let mut handles = Vec::with_capacity(workers);
        for n in 0..workers {
            let s = shared.clone();
            let spawned = std::thread::Builder::new().name(format!("passcode-delivery-{n}")).spawn(move || worker(&s));
            match spawned {
                Ok(h) => handles.push(h),
                Err(e) => {
                    shared.lock().workers = n;
                    let q = Queue { shared, handles: Mutex::new(handles) };
                    q.shutdown(Duration::ZERO);
                    return Err(e);
                }
            }
        }
        Ok(Queue { shared, handles: Mutex::new(handles) })
    }

    pub fn has_route(&self, channel: Channel) -> bool {
        !self.shared.route(channel).is_empty()
    }

    pub fn reserve(&self, channel: Option<Channel>) -> Result<Slot, Error> {
        if let Some(channel) = channel.filter(|c| !self.has_route(*c)) {
            return Err(Error::NoSender { channel: channel.name() });
        }
        let mut state = self.shared.lock();
        if state.closed {
            return Err(Error::Stopped);
        }
        if state.jobs.len() + state.reserved >= self.shared.capacity {
            drop(state);
            self.shared.counters.queue_full.fetch_add(1, Ordering::Relaxed);
            return Err(Error::QueueFull);
        }
        state.reserved += 1;
        Ok(Slot { shared: self.shared.clone(), used: false })
    }

    pub fn has_room(&self) -> bool {
        let state = self.shared.lock();
        !state.closed && state.jobs.len() + state.reserved < self.shared.capacity
    }

    /// Sends one message now on the calling thread, through the same route and rules.
    pub fn send_now(&self, message: &Outgoing) -> Result<Receipt, Error> {
        let route = self.shared.route(message.channel);
        if route.is_empty() {
            return Err(Error::NoSender { channel: message.channel.name() });
        }
        deliver(route, message, &self.shared.policy, Instant::now(), &Sleep, &self.shared.reporter())
            .map_err(Error::Failed)
    }

    pub fn stats(&self) -> DeliveryStats {
        let waiting = self.shared.lock().jobs.len() as u64;
        self.shared.counters.snapshot(waiting)
    }

    pub fn shutdown(&self, within: Duration) -> ShutdownReport {
        let give_up_at = Instant::now() + within;
        {
            let mut state = self.shared.lock();
            if !state.closed {
                state.closed = true;
                state.give_up_at = Some(give_up_at);
            }
        }
        self.shared.wake.notify_all();
        let mut state = self.shared.lock();
        while state.workers > 0 {
            let now = Instant::now();
            let Some(left) = state.give_up_at.and_then(|g| g.checked_duration_since(now)) else { break };
            if left.is_zero() {
                break;
            }
            state = self.shared.stopped.wait_timeout(state, left).unwrap_or_else(|p| p.into_inner()).0;
        }
        let drained = state.workers == 0;
        let left: Vec<Job> = state.jobs.drain(..).collect();
        drop(state);
        let report = self.shared.reporter();
        for job in &left {
            report.emit(
                DeliveryEventKind::Failed,
                &job.message,
                Detail { reason: Some("shutdown"), ..Detail::default() },
            );
        }
        if drained {
            for h in self.handles.lock().unwrap_or_else(|p| p.into_inner()).drain(..) {
                let _ = h.join();
            }
        }
        ShutdownReport { abandoned: left.len(), drained }
    }
}

impl Drop for Queue {
    fn drop(&mut self) {
        self.shutdown(Duration::ZERO);
    }
}
