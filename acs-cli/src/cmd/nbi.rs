//! The operator and script commands: everything that talks to a running ACS over its
//! northbound API. Flattened into the top-level command list by `main.rs`.

use clap::Subcommand;

use crate::cmd::{alerts, devices, files, firmware, get, provision, rpc, tasks};

#[derive(Debug, Subcommand)]
pub enum NbiCommand {
    /// List, show, delete and tag devices.
    #[command(subcommand)]
    Devices(devices::DevicesCommand),
    /// A device's recent events (Informs, task results), newest first.
    Events(devices::EventsArgs),
    /// Stored (or, with --live, fresh) parameter values of many devices: one row per device
    /// and parameter.
    Get(get::GetArgs),
    /// Set parameter values on devices.
    Set(get::SetArgs),
    /// A device's stored parameter tree: value, type, writability and when each was learnt.
    Params(rpc::ParamsArgs),
    /// Re-read a subtree from the devices (GetParameterNames, then GetParameterValues).
    Refresh(rpc::RefreshArgs),
    /// Parameter attributes: notification and access lists.
    #[command(subcommand)]
    Attrs(rpc::AttrsCommand),
    /// Add or delete object instances (AddObject, DeleteObject).
    #[command(subcommand)]
    Object(rpc::ObjectCommand),
    /// Have devices upload a file (their configuration or a log) to a URL.
    Upload(rpc::UploadArgs),
    /// Have devices inform again after a delay (ScheduleInform).
    ScheduleInform(rpc::ScheduleInformArgs),
    /// Which CWMP methods the devices support (GetRPCMethods).
    RpcMethods(tasks::ActionArgs),
    /// A Download the devices run inside a time window (ScheduleDownload).
    ScheduleDownload(rpc::ScheduleDownloadArgs),
    /// The transfers the devices have queued or running (GetAllQueuedTransfers).
    QueuedTransfers(tasks::ActionArgs),
    /// Cancel a queued transfer by its CommandKey (CancelTransfer).
    CancelTransfer(rpc::CancelTransferArgs),
    /// Reboot devices.
    Reboot(tasks::ActionArgs),
    /// Reset devices to their factory settings.
    FactoryReset(tasks::ActionArgs),
    /// List, show, cancel and retry tasks.
    #[command(subcommand)]
    Tasks(tasks::TasksCommand),
    /// List and clear faults (tasks that ended in a CPE fault).
    #[command(subcommand)]
    Faults(tasks::FaultsCommand),
    /// Bulk jobs: one task over many devices.
    #[command(subcommand)]
    Jobs(tasks::JobsCommand),
    /// Files for devices: firmware images, configuration templates, CA certificates.
    #[command(subcommand)]
    Files(files::FilesCommand),
    /// Configuration templates (MPP flat profiles).
    #[command(subcommand)]
    Config(files::ConfigCommand),
    /// Firmware rollouts.
    #[command(subcommand)]
    Firmware(FirmwareCommand),
    /// Custom CA certificates.
    #[command(subcommand)]
    Ca(CaCommand),
    /// Zero-touch provisioning rules: what devices get when they bootstrap, boot or inform.
    #[command(subcommand)]
    Provision(provision::ProvisionCommand),
    /// Alerts sent to webhooks: recent deliveries, and a test alert.
    #[command(subcommand)]
    Alerts(alerts::AlertsCommand),
}

#[derive(Debug, Subcommand)]
pub enum CaCommand {
    /// Push a CA certificate file to devices: a Download with a vendor FileType (default
    /// `X {oui} Custom CA`), rolled out and reported like firmware.
    Push(firmware::CaPushArgs),
}

#[derive(Debug, Subcommand)]
pub enum FirmwareCommand {
    /// Push a firmware image to devices: a Download of `1 Firmware Upgrade Image` per device,
    /// tracked to TransferComplete and the new SoftwareVersion.
    Push(firmware::PushArgs),
}

impl NbiCommand {
    pub fn run(self) -> anyhow::Result<()> {
        match self {
            NbiCommand::Devices(c) => devices::run(c),
            NbiCommand::Events(a) => devices::events(a),
            NbiCommand::Get(a) => get::get(a),
            NbiCommand::Set(a) => get::set(a),
            NbiCommand::Params(a) => rpc::params(a),
            NbiCommand::Refresh(a) => rpc::refresh(a),
            NbiCommand::Attrs(c) => rpc::attrs(c),
            NbiCommand::Object(c) => rpc::object(c),
            NbiCommand::Upload(a) => rpc::upload(a),
            NbiCommand::ScheduleInform(a) => rpc::schedule_inform(a),
            NbiCommand::RpcMethods(a) => rpc::rpc_methods(a),
            NbiCommand::ScheduleDownload(a) => rpc::schedule_download(a),
            NbiCommand::QueuedTransfers(a) => rpc::queued_transfers(a),
            NbiCommand::CancelTransfer(a) => rpc::cancel_transfer(a),
            NbiCommand::Reboot(a) => tasks::action(a, tasks::Action::Reboot),
            NbiCommand::FactoryReset(a) => tasks::action(a, tasks::Action::FactoryReset),
            NbiCommand::Tasks(c) => tasks::tasks(c),
            NbiCommand::Faults(c) => tasks::faults(c),
            NbiCommand::Jobs(c) => tasks::jobs(c),
            NbiCommand::Files(c) => files::run(c),
            NbiCommand::Provision(c) => provision::run(c),
            NbiCommand::Alerts(c) => alerts::run(c),
            NbiCommand::Config(c) => files::config(c),
            NbiCommand::Firmware(FirmwareCommand::Push(a)) => firmware::push(a),
            NbiCommand::Ca(CaCommand::Push(a)) => firmware::push_ca(a),
        }
    }
}
