//! Background mode: one task per device, sleeping until its next timer or trigger.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use rand::Rng as _;
use tokio::sync::watch;
use tokio::time::Instant;

use super::Shared;
use super::device::{self, DeviceSlot};
use super::rpc::Action;
use super::transfer;

/// The TR-069 §3.2.1.1 wait before retry `retry_count` (≥ 1; 0 is taken as 1):
/// `[m·k^(n-1), m·k^n]` with n capped at 10.
pub fn retry_delay_range(
    retry_count: u32,
    base: Duration,
    multiplier: f64,
) -> (Duration, Duration) {
    let n = retry_count.clamp(1, 10) as i32;
    let k = multiplier.max(1.0);
    (base.mul_f64(k.powi(n - 1)), base.mul_f64(k.powi(n)))
}

/// A random wait in [`retry_delay_range`].
pub fn retry_delay(retry_count: u32, base: Duration, multiplier: f64) -> Duration {
    let (lo, hi) = retry_delay_range(retry_count, base, multiplier);
    if hi <= lo {
        lo
    } else {
        rand::rng().random_range(lo..=hi)
    }
}

/// Far enough to mean "no timer".
fn never() -> Instant {
    Instant::now() + Duration::from_secs(86_400 * 365)
}

/// The periodic interval from the data model (the ACS may change it), `None` when disabled.
fn periodic_interval(shared: &Shared, slot: &DeviceSlot) -> Option<Duration> {
    if !shared.config.periodic {
        return None;
    }
    let st = slot.lock();
    let enabled = st
        .model
        .value(&shared.param("ManagementServer.PeriodicInformEnable"))
        .is_none_or(|v| v == "true" || v == "1");
    let secs = st
        .model
        .value(&shared.param("ManagementServer.PeriodicInformInterval"))
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(shared.config.interval.as_secs());
    (enabled && secs > 0).then(|| Duration::from_secs(secs))
}

pub(crate) async fn device_task(
    shared: Arc<Shared>,
    slot: Arc<DeviceSlot>,
    mut shutdown: watch::Receiver<bool>,
) {
    let ramp = shared.config.ramp;
    let offset = if ramp.is_zero() {
        Duration::ZERO
    } else {
        rand::rng().random_range(Duration::ZERO..ramp)
    };
    let mut start_at = Some(Instant::now() + offset);
    // Periodic informs run on their own clock (std Instants are kept in the state).
    let mut next_periodic: Option<Instant> = None;
    loop {
        if *shutdown.borrow() {
            return;
        }
        let wake = {
            let st = slot.lock();
            let t = &st.timers;
            [
                start_at,
                next_periodic,
                t.retry_at.map(Instant::from_std),
                t.reboot_until.map(Instant::from_std),
            ]
            .into_iter()
            .flatten()
            .chain(t.scheduled.iter().map(|(i, _)| Instant::from_std(*i)))
            .chain(t.transfers.iter().map(|(i, _)| Instant::from_std(*i)))
            .min()
            .unwrap_or_else(never)
        };
        tokio::select! {
            changed = shutdown.changed() => {
                if changed.is_err() {
                    return;
                }
                continue;
            }
            _ = slot.kick.notified() => {}
            _ = tokio::time::sleep_until(wake) => {}
        }
        let now = Instant::now();
        let cr = slot.connection_request_pending();
        if let Some(t) = start_at {
            if t > now && !cr {
                continue;
            }
            start_at = None;
            next_periodic = periodic_interval(&shared, &slot).map(|i| now + i);
        }

        // Timers that fell due.
        let interval = periodic_interval(&shared, &slot);
        let due_transfers = {
            let mut st = slot.lock();
            if let Some(t) = st.timers.reboot_until {
                if Instant::from_std(t) > now {
                    continue;
                }
                st.timers.reboot_until = None;
                slot.busy.store(false, Ordering::SeqCst);
                // Periodic informs restart with the boot.
                next_periodic = interval.map(|i| now + i);
            }
            if let Some(t) = next_periodic
                && t <= now
            {
                st.pending.periodic = true;
                next_periodic = interval.map(|interval| {
                    let mut next = t;
                    while next <= now {
                        next += interval;
                    }
                    next
                });
            }
            let std_now = now.into_std();
            let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut st.timers.scheduled)
                .into_iter()
                .partition(|(t, _)| *t <= std_now);
            st.timers.scheduled = later;
            st.pending
                .scheduled_keys
                .extend(due.into_iter().map(|(_, k)| k));
            let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut st.timers.transfers)
                .into_iter()
                .partition(|(t, _)| *t <= std_now);
            st.timers.transfers = later;
            due
        };
        let mut rebooting = false;
        for (_, action) in due_transfers {
            let (complete, installed) = transfer::perform(&shared, &slot, &action).await;
            rebooting |= slot
                .lock()
                .transfer_finished(&shared, &action, complete, installed);
        }
        if rebooting {
            start_reboot(&shared, &slot);
            continue;
        }

        let want = {
            let st = slot.lock();
            let backing_off = st
                .timers
                .retry_at
                .is_some_and(|t| Instant::from_std(t) > now)
                && !st.pending.connection_request;
            st.has_pending() && !backing_off
        };
        if !want {
            continue;
        }

        let permit = tokio::select! {
            p = shared.session_permits.acquire() => match p {
                Ok(p) => p,
                Err(_) => return,
            },
            _ = shutdown.changed() => continue,
        };
        let session = slot.session_lock.lock().await;
        let (report, actions) = device::guarded_session(&shared, &slot, Vec::new()).await;
        drop(permit);
        let mut reboot = false;
        {
            let mut st = slot.lock();
            let std_now = std::time::Instant::now();
            for action in actions {
                match action {
                    Action::Reboot { command_key } => {
                        st.pending.reboot_keys.push(command_key);
                        st.reboot();
                        reboot = true;
                    }
                    Action::FactoryReset => {
                        st.factory_reset(&shared);
                        reboot = true;
                    }
                    Action::ScheduleInform {
                        delay_seconds,
                        command_key,
                    } => st.timers.scheduled.push((
                        std_now + Duration::from_secs(u64::from(delay_seconds)),
                        command_key,
                    )),
                    Action::Download(ref d) => {
                        let at = std_now + Duration::from_secs(u64::from(d.delay_seconds));
                        st.timers.transfers.push((at, action));
                    }
                    Action::Upload(ref u) => {
                        let at = std_now + Duration::from_secs(u64::from(u.delay_seconds));
                        st.timers.transfers.push((at, action));
                    }
                }
            }
            if report.inform_accepted {
                st.timers.transfer_new = false;
            }
            if report.succeeded() {
                st.timers.retry_at = None;
            } else {
                if !st.pending.transfers.is_empty() {
                    st.timers.transfer_new = true;
                }
                st.timers.retry_at = st.has_pending().then(|| {
                    std_now
                        + super::retry_delay(
                            st.retry_count,
                            shared.config.retry_base,
                            shared.config.retry_multiplier,
                        )
                });
            }
        }
        if reboot {
            start_reboot(&shared, &slot);
        } else {
            slot.busy.store(false, Ordering::SeqCst);
        }
        drop(session);
        device::record_background(&slot, &report);
    }
}

/// The device goes down for `reboot_delay` (connection requests get 503 meanwhile).
fn start_reboot(shared: &Shared, slot: &DeviceSlot) {
    slot.busy.store(true, Ordering::SeqCst);
    let mut st = slot.lock();
    st.pending.boot = true;
    st.timers.reboot_until = Some(std::time::Instant::now() + shared.config.reboot_delay);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_follows_tr069() {
        let m = Duration::from_secs(5);
        let cases = [
            (0, 5, 10),
            (1, 5, 10),
            (2, 10, 20),
            (3, 20, 40),
            (10, 2560, 5120),
            (11, 2560, 5120),
            (500, 2560, 5120),
        ];
        for (n, lo, hi) in cases {
            assert_eq!(
                retry_delay_range(n, m, 2.0),
                (Duration::from_secs(lo), Duration::from_secs(hi)),
                "n={n}"
            );
            let d = retry_delay(n, m, 2.0);
            assert!(
                d >= Duration::from_secs(lo) && d <= Duration::from_secs(hi),
                "{d:?}"
            );
        }
        assert_eq!(
            retry_delay_range(2, Duration::from_millis(1), 1.5),
            (Duration::from_micros(1500), Duration::from_micros(2250))
        );
    }
}
