//! One simulated device: its data model, pending events and transfers, and the public handle.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use acs_core::cwmp::{DeviceId, EventCode, EventStruct, TransferComplete};
use tokio::sync::{Notify, watch};

use super::flat_profile::{self, FlatProfile};
use super::model::{CpeFault, DataModel, DeviceVars, Schema};
use super::rpc::Action;
use super::session::{self, SessionReport};
use super::transfer::Installed;
use super::{Shared, SimConfig, transfer};

/// Events waiting for the next Inform.
#[derive(Debug, Clone, Default)]
pub(crate) struct Pending {
    pub bootstrap: bool,
    pub boot: bool,
    pub periodic: bool,
    pub connection_request: bool,
    pub reboot_keys: Vec<String>,
    pub scheduled_keys: Vec<String>,
    /// TransferCompletes not yet acknowledged by a TransferCompleteResponse.
    pub transfers: Vec<PendingTransfer>,
}

/// A finished transfer whose TransferComplete the ACS has not acknowledged.
#[derive(Debug, Clone)]
pub(crate) struct PendingTransfer {
    /// `Download` or `Upload`: the `M <method>` event.
    pub method: &'static str,
    pub complete: TransferComplete,
}

/// Background-mode timers.
#[derive(Debug, Default)]
pub(crate) struct Timers {
    pub retry_at: Option<Instant>,
    pub reboot_until: Option<Instant>,
    pub scheduled: Vec<(Instant, String)>,
    pub transfers: Vec<(Instant, Action)>,
    /// A transfer finished since the last session: start one to report it.
    pub transfer_new: bool,
}

#[derive(Debug)]
pub(crate) struct DeviceState {
    pub model: DataModel,
    pub pending: Pending,
    pub retry_count: u32,
    pub booted_at: Instant,
    pub sessions: u64,
    pub last_report: Option<SessionReport>,
    pub timers: Timers,
    /// Flat-profile settings from configuration files that have no data-model counterpart,
    /// by element name (see [`flat_profile`]).
    pub flat_profile: BTreeMap<String, String>,
}

impl DeviceState {
    /// The events of the next Inform: `extra` plus everything pending, one of each single
    /// event, sorted; `2 PERIODIC` when that leaves nothing.
    pub fn inform_events(&self, extra: &[EventStruct]) -> Vec<EventStruct> {
        let p = &self.pending;
        let mut out = Vec::new();
        let single = |c: EventCode| EventStruct::new(c);
        if p.bootstrap {
            push_event(&mut out, single(EventCode::Bootstrap));
        }
        if p.boot {
            push_event(&mut out, single(EventCode::Boot));
        }
        if p.periodic {
            push_event(&mut out, single(EventCode::Periodic));
        }
        if !p.scheduled_keys.is_empty() {
            push_event(&mut out, single(EventCode::Scheduled));
        }
        if self.model.value_change_pending() {
            push_event(&mut out, single(EventCode::ValueChange));
        }
        if p.connection_request {
            push_event(&mut out, single(EventCode::ConnectionRequest));
        }
        if !p.transfers.is_empty() {
            push_event(&mut out, single(EventCode::TransferComplete));
        }
        for k in &p.reboot_keys {
            push_event(&mut out, EventStruct::with_key(EventCode::m_reboot(), k));
        }
        for k in &p.scheduled_keys {
            push_event(
                &mut out,
                EventStruct::with_key(EventCode::m_schedule_inform(), k),
            );
        }
        for t in &p.transfers {
            push_event(
                &mut out,
                EventStruct::with_key(
                    EventCode::Method(t.method.to_owned()),
                    &t.complete.command_key,
                ),
            );
        }
        for e in extra {
            push_event(&mut out, e.clone());
        }
        if out.is_empty() {
            out.push(single(EventCode::Periodic));
        }
        out.sort_by_key(|e| event_rank(&e.event_code));
        out
    }

    /// The InformResponse arrived: the events are delivered (TransferCompletes stay until
    /// acknowledged).
    pub fn events_delivered(&mut self) {
        let p = &mut self.pending;
        p.bootstrap = false;
        p.boot = false;
        p.periodic = false;
        p.connection_request = false;
        p.reboot_keys.clear();
        p.scheduled_keys.clear();
        self.model.clear_value_changes();
    }

    /// Whether anything waits for a session.
    pub fn has_pending(&self) -> bool {
        let p = &self.pending;
        p.bootstrap
            || p.boot
            || p.periodic
            || p.connection_request
            || !p.reboot_keys.is_empty()
            || !p.scheduled_keys.is_empty()
            || self.timers.transfer_new
            || self.model.active_value_change_pending()
    }

    /// The device restarts: `1 BOOT` next time, uptime from zero.
    pub fn reboot(&mut self) {
        self.pending.boot = true;
        self.booted_at = Instant::now();
    }

    /// Back to factory defaults: `0 BOOTSTRAP` + `1 BOOT` next time. TransferCompletes still
    /// owed are kept (the ACS matches them by CommandKey and accepts duplicates).
    pub fn factory_reset(&mut self, shared: &Shared) {
        self.model.factory_reset();
        self.flat_profile.clear();
        apply_factory_settings(&mut self.model, &shared.config);
        self.pending.bootstrap = true;
        self.pending.reboot_keys.clear();
        self.pending.scheduled_keys.clear();
        self.timers.scheduled.clear();
        self.reboot();
    }

    /// Records a finished transfer and installs what it brought ([`transfer`]): a firmware
    /// image sets SoftwareVersion and reboots, a configuration file is applied. Returns whether
    /// the device rebooted.
    pub fn transfer_finished(
        &mut self,
        shared: &Shared,
        action: &Action,
        complete: TransferComplete,
        installed: Installed,
    ) -> bool {
        let mut rebooted = false;
        let method = match action {
            Action::Download(_) => {
                match installed {
                    Installed::Firmware(version) => {
                        if let Some(version) = version {
                            let name = shared.param("DeviceInfo.SoftwareVersion");
                            if let Err(e) = self.model.set_internal(&name, &version) {
                                tracing::warn!(%name, %version, "cannot install firmware: {e}");
                            }
                        }
                        self.reboot();
                        rebooted = true;
                    }
                    Installed::Config(config) => self.apply_flat_profile(shared, &config),
                    Installed::Nothing => {}
                }
                "Download"
            }
            _ => "Upload",
        };
        self.pending
            .transfers
            .retain(|t| t.complete.command_key != complete.command_key || t.method != method);
        self.pending
            .transfers
            .push(PendingTransfer { method, complete });
        self.timers.transfer_new = true;
        rebooted
    }

    /// Applies a flat-profile configuration: settings with a parameter in the data model are
    /// written to it (as the device's own changes), the others kept in
    /// [`DeviceState::flat_profile`]; values a parameter refuses are skipped.
    pub fn apply_flat_profile(&mut self, shared: &Shared, config: &FlatProfile) {
        let root = &shared.config.profile.root;
        for (element, value) in &config.settings {
            let writes = match flat_profile::mapping(element, value) {
                Some(Ok(writes)) => writes,
                Some(Err(reason)) => {
                    tracing::info!(%element, "configuration setting skipped: {reason}");
                    continue;
                }
                None => Vec::new(),
            };
            let writes: Vec<(String, &str)> = writes
                .iter()
                .map(|(p, v)| (format!("{root}{p}"), v.as_str()))
                .collect();
            if writes.is_empty() || writes.iter().any(|(p, _)| self.model.value(p).is_none()) {
                self.flat_profile.insert(element.clone(), value.clone());
                continue;
            }
            for (name, v) in writes {
                if let Err(e) = self.model.set_internal(&name, v) {
                    tracing::info!(%element, %name, "configuration setting skipped: {e}");
                    break;
                }
            }
        }
    }

    /// Refreshes DeviceInfo.UpTime before an Inform.
    pub fn update_uptime(&mut self, shared: &Shared) {
        let secs = self.booted_at.elapsed().as_secs().min(u64::from(u32::MAX));
        let _ = self
            .model
            .set_internal(&shared.param("DeviceInfo.UpTime"), &secs.to_string());
    }
}

fn push_event(out: &mut Vec<EventStruct>, e: EventStruct) {
    let cumulative = matches!(e.event_code, EventCode::Method(_));
    let dup = out
        .iter()
        .any(|o| o.event_code == e.event_code && (!cumulative || o.command_key == e.command_key));
    if !dup {
        out.push(e);
    }
}

fn event_rank(c: &EventCode) -> u32 {
    match c {
        EventCode::Bootstrap => 0,
        EventCode::Boot => 1,
        EventCode::Periodic => 2,
        EventCode::Scheduled => 3,
        EventCode::ValueChange => 4,
        EventCode::Kicked => 5,
        EventCode::ConnectionRequest => 6,
        EventCode::TransferComplete => 7,
        EventCode::DiagnosticsComplete => 8,
        EventCode::RequestDownload => 9,
        EventCode::AutonomousTransferComplete => 10,
        EventCode::DuStateChangeComplete => 11,
        EventCode::AutonomousDuStateChangeComplete => 12,
        EventCode::Wakeup => 13,
        EventCode::Unknown(_) => 50,
        EventCode::Method(_) => 100,
        EventCode::Vendor(_) => 200,
    }
}

/// The simulator's settings written into a fresh (or factory-reset) data model: the ACS
/// credentials and the periodic inform interval. Not reported as value changes.
pub(crate) fn apply_factory_settings(model: &mut DataModel, config: &SimConfig) {
    let root = config.profile.root.clone();
    let mut set = |suffix: &str, value: &str| {
        let name = format!("{root}{suffix}");
        if model.value(&name).is_some()
            && let Err(e) = model.set_internal(&name, value)
        {
            tracing::warn!(%name, "cannot set {value:?}: {e}");
        }
    };
    if let Some(u) = &config.username {
        set("ManagementServer.Username", u);
    }
    if let Some(p) = &config.password {
        set("ManagementServer.Password", p);
    }
    let secs = config.interval.as_secs().clamp(1, u64::from(u32::MAX));
    set("ManagementServer.PeriodicInformInterval", &secs.to_string());
    model.clear_value_changes();
}

/// A device and its synchronisation: `state` is locked briefly (never across an await),
/// `session_lock` for a whole session.
#[derive(Debug)]
pub(crate) struct DeviceSlot {
    pub index: usize,
    pub serial: String,
    pub id: DeviceId,
    pub cr_url: String,
    pub state: Mutex<DeviceState>,
    pub session_lock: tokio::sync::Mutex<()>,
    /// A session is in progress or the device is rebooting: connection requests get 503.
    pub busy: AtomicBool,
    /// Bumped when a connection request is accepted and when a session ends.
    pub signal: watch::Sender<()>,
    /// Wakes the background task.
    pub kick: Notify,
}

impl DeviceSlot {
    pub fn new(
        index: usize,
        schema: Arc<Schema>,
        vars: DeviceVars,
        cr_url: String,
        config: &SimConfig,
    ) -> DeviceSlot {
        let serial = vars.serial.clone();
        let mut model = DataModel::new(schema, vars);
        apply_factory_settings(&mut model, config);
        let p = &config.profile;
        DeviceSlot {
            index,
            id: DeviceId {
                manufacturer: p.manufacturer.clone(),
                oui: p.oui.clone(),
                product_class: p.product_class.clone(),
                serial_number: serial.clone(),
            },
            serial,
            cr_url,
            state: Mutex::new(DeviceState {
                model,
                pending: Pending {
                    bootstrap: true,
                    boot: true,
                    ..Pending::default()
                },
                retry_count: 0,
                booted_at: Instant::now(),
                sessions: 0,
                last_report: None,
                timers: Timers::default(),
                flat_profile: BTreeMap::new(),
            }),
            session_lock: tokio::sync::Mutex::new(()),
            busy: AtomicBool::new(false),
            signal: watch::Sender::new(()),
            kick: Notify::new(),
        }
    }

    pub fn lock(&self) -> MutexGuard<'_, DeviceState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn connection_request_pending(&self) -> bool {
        self.lock().pending.connection_request
    }

    pub fn sessions(&self) -> u64 {
        self.lock().sessions
    }

    pub fn last_report(&self) -> Option<SessionReport> {
        self.lock().last_report.clone()
    }

    pub fn pending_transfer_completes(&self) -> Vec<TransferComplete> {
        self.lock()
            .pending
            .transfers
            .iter()
            .map(|t| t.complete.clone())
            .collect()
    }

    /// Records a finished session and wakes its waiters.
    fn record(&self, report: &SessionReport) {
        {
            let mut st = self.lock();
            st.sessions += 1;
            st.last_report = Some(report.clone());
        }
        self.signal.send_modify(|_| {});
    }
}

/// Runs one session under the device's session lock and updates the retry count and the
/// counters. Returns the report and what the ACS asked for.
pub(crate) async fn guarded_session(
    shared: &Shared,
    slot: &DeviceSlot,
    extra: Vec<EventStruct>,
) -> (SessionReport, Vec<Action>) {
    slot.busy.store(true, Ordering::SeqCst);
    shared.counters.active.fetch_add(1, Ordering::Relaxed);
    let (report, actions) = session::run(shared, slot, &extra).await;
    shared.counters.active.fetch_sub(1, Ordering::Relaxed);
    {
        let mut st = slot.lock();
        if report.succeeded() {
            st.retry_count = 0;
            shared.counters.sessions_ok.fetch_add(1, Ordering::Relaxed);
        } else {
            st.retry_count = st.retry_count.saturating_add(1);
            // 6 CONNECTION REQUEST is never retried.
            st.pending.connection_request = false;
            shared
                .counters
                .sessions_failed
                .fetch_add(1, Ordering::Relaxed);
        }
    }
    (report, actions)
}

/// The explicit-mode session: run it, carry out the ACS's requests at once, record it.
pub(crate) async fn explicit_session(
    shared: &Shared,
    slot: &DeviceSlot,
    extra: Vec<EventStruct>,
) -> SessionReport {
    let _session = slot.session_lock.lock().await;
    let (report, actions) = guarded_session(shared, slot, extra).await;
    for action in actions {
        match action {
            Action::Reboot { command_key } => {
                let mut st = slot.lock();
                st.pending.reboot_keys.push(command_key);
                st.reboot();
            }
            Action::FactoryReset => slot.lock().factory_reset(shared),
            Action::ScheduleInform { command_key, .. } => {
                slot.lock().pending.scheduled_keys.push(command_key);
            }
            transfer_action @ (Action::Download(_) | Action::Upload(_)) => {
                let (complete, installed) = transfer::perform(shared, slot, &transfer_action).await;
                slot.lock()
                    .transfer_finished(shared, &transfer_action, complete, installed);
            }
        }
    }
    slot.busy.store(false, Ordering::SeqCst);
    slot.record(&report);
    report
}

/// Records a background session (the runner carries out the actions itself).
pub(crate) fn record_background(slot: &DeviceSlot, report: &SessionReport) {
    slot.record(report);
}

/// A simulated device, for inspecting and nudging it. Cheap to clone.
#[derive(Debug, Clone)]
pub struct DeviceHandle {
    slot: Arc<DeviceSlot>,
}

impl DeviceHandle {
    pub(crate) fn new(slot: Arc<DeviceSlot>) -> DeviceHandle {
        DeviceHandle { slot }
    }

    /// Its index in the simulator.
    pub fn index(&self) -> usize {
        self.slot.index
    }

    /// Its serial number, `{prefix}{n:06}`.
    pub fn serial(&self) -> &str {
        &self.slot.serial
    }

    /// The ACS's key for it: `OUI-ProductClass-Serial` ([`DeviceId::device_key`]).
    pub fn device_id(&self) -> String {
        self.slot.id.device_key()
    }

    /// The Inform DeviceId.
    pub fn identity(&self) -> &DeviceId {
        &self.slot.id
    }

    /// Its ConnectionRequestURL, `http://host:port/{serial}`.
    pub fn cr_url(&self) -> &str {
        &self.slot.cr_url
    }

    /// The real value of a parameter (passwords included); `None` if it does not exist.
    pub fn value(&self, name: &str) -> Option<String> {
        self.slot.lock().model.value(name)
    }

    /// Changes a parameter as the device itself would (no writability check; reported with
    /// `4 VALUE CHANGE` if its Notification is 1 or 2). Returns whether the value changed.
    pub fn set_value(&self, name: &str, value: &str) -> Result<bool, CpeFault> {
        self.slot.lock().model.set_internal(name, value)
    }

    /// Loses line `n`'s SIP registration (its TR-104 Status becomes `Error`), as when the
    /// registrar stops answering; with active notification on the Status the phone informs at
    /// once (`4 VALUE CHANGE`). Returns whether the state changed.
    pub fn deregister_line(&self, n: u32) -> Result<bool, CpeFault> {
        self.set_line_registered(n, false)
    }

    /// Regains line `n`'s registration (Status `Up`). Returns whether the state changed.
    pub fn register_line(&self, n: u32) -> Result<bool, CpeFault> {
        self.set_line_registered(n, true)
    }

    fn set_line_registered(&self, n: u32, registered: bool) -> Result<bool, CpeFault> {
        let root = self.slot.lock().model.profile().root.clone();
        let changed =
            super::lines::set_registered(&mut self.slot.lock().model, &root, n, registered)?;
        if changed {
            // A running device informs on an active value change without waiting.
            self.slot.kick.notify_one();
        }
        Ok(changed)
    }

    /// Settings of the configuration files it applied that have no data-model parameter, by
    /// flat-profile element name (`Station_Name` → `Lobby`).
    pub fn flat_profile(&self) -> BTreeMap<String, String> {
        self.slot.lock().flat_profile.clone()
    }

    /// Runs `f` on the data model.
    pub fn with_model<R>(&self, f: impl FnOnce(&DataModel) -> R) -> R {
        f(&self.slot.lock().model)
    }

    /// The events the next Inform would carry (without the `2 PERIODIC` filler).
    pub fn pending_events(&self) -> Vec<EventStruct> {
        let st = self.slot.lock();
        let mut events = st.inform_events(&[]);
        if !st.pending.periodic {
            events.retain(|e| e.event_code != EventCode::Periodic);
        }
        events
    }

    /// TransferCompletes not yet acknowledged by the ACS.
    pub fn pending_transfer_completes(&self) -> Vec<TransferComplete> {
        self.slot.pending_transfer_completes()
    }

    /// The RetryCount of the next Inform (failed sessions since the last successful one).
    pub fn retry_count(&self) -> u32 {
        self.slot.lock().retry_count
    }

    /// Sessions finished so far (successful or not).
    pub fn sessions(&self) -> u64 {
        self.slot.sessions()
    }

    /// The report of the latest session.
    pub fn last_report(&self) -> Option<SessionReport> {
        self.slot.last_report()
    }

    /// Whether a session is in progress (or, in background mode, the device is rebooting).
    pub fn is_busy(&self) -> bool {
        self.slot.busy.load(Ordering::SeqCst)
    }
}
