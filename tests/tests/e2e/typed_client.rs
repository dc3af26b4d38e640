//! The typed client of `acs-api` (what the `acs` commands use) against a running ACS: every
//! family of operations reads back as its type, and failures arrive as typed errors.

use acs_api::{
    BulkParametersQuery, ClearFaults, Client, ClientError, CountQuery, CreateJob, CreateTaskQuery,
    DeviceListQuery, EventsQuery, FaultListQuery, FileListQuery, JobDevices, JobListQuery,
    JobStateName, JobTasksQuery, ParametersQuery, ProvisionRuleInput, ResetQuery, SetValue,
    TaskDefinition, TaskListQuery, TaskStateName, TransferQuery, UploadQuery,
};
use acs_cli::sim::{SimConfig, Simulator, profile::Profile};
use acs_core::storage::Role;
use acs_tests::spawn_app;

const VERSION: &str = "Device.DeviceInfo.SoftwareVersion";

#[tokio::test]
async fn the_typed_client_covers_devices_tasks_jobs_files_and_provisioning() {
    let app = spawn_app().await;
    let token = acs_tests::api_token(&app, "typed", Role::Admin).await;
    let api = Client::new(reqwest::Client::new(), app.nbi_url.parse().unwrap(), token);
    let mut config = SimConfig::new(
        app.cwmp_url.clone(),
        1,
        Profile::builtin("cisco-mpp").unwrap(),
    );
    config.periodic = false;
    let sim = Simulator::start(config).await.unwrap();
    let id = sim.device(0).device_id();
    assert!(sim.run_session(0, vec![]).await.unwrap().succeeded());

    // Devices.
    let page = api
        .list_devices(&DeviceListQuery {
            sort: Some("-last_inform".into()),
            ..DeviceListQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(page.devices.len(), 1);
    assert_eq!(page.next, None);
    let device = page.devices.into_iter().next().unwrap();
    assert_eq!(device.id, id);
    assert_eq!(api.device(&id).await.unwrap(), device);
    assert_eq!(
        api.resolve_device(&device.serial_number).await.unwrap().id,
        id
    );
    let count = api.count_devices(&CountQuery::default()).await.unwrap();
    assert_eq!(count.count, 1);
    api.add_tag(&id, "typed").await.unwrap();
    assert_eq!(api.device(&id).await.unwrap().tags, ["typed"]);
    api.remove_tag(&id, "typed").await.unwrap();
    let err = api.remove_tag(&id, "typed").await.unwrap_err();
    assert_eq!(err.status(), Some(404));
    assert_eq!(err.api().unwrap().body.error, "not_found");
    let params = api
        .device_parameters(
            &id,
            &ParametersQuery {
                prefix: Some("Device.DeviceInfo.".into()),
            },
        )
        .await
        .unwrap();
    assert!(params.parameters.iter().any(|p| p.name == VERSION));
    let events = api
        .device_events(&id, &EventsQuery { limit: Some(10) })
        .await
        .unwrap();
    assert!(!events.events.is_empty());

    // A task, done in the device's next session.
    let task = api
        .create_task(
            &id,
            &CreateTaskQuery::default(),
            &TaskDefinition::GetParameterValues {
                names: vec![VERSION.into()],
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (task.state, task.kind.as_str()),
        (TaskStateName::Queued, "get_parameter_values")
    );
    assert!(sim.run_session(0, vec![]).await.unwrap().succeeded());
    let done = api.task(task.id).await.unwrap();
    assert_eq!(done.state, TaskStateName::Done);
    // The answer, typed: the value read, named by its TR-069 element.
    let Some(acs_api::RpcResponse::GetParameterValues { parameter_list }) =
        done.result.as_ref().and_then(|r| r.response.clone())
    else {
        panic!("a GetParameterValuesResponse, got {:?}", done.result);
    };
    assert_eq!(parameter_list.len(), 1);
    assert_eq!(parameter_list[0].name, VERSION);
    assert_eq!(parameter_list[0].value_type, "xsd:string");
    let listed = api
        .list_tasks(&TaskListQuery {
            device: Some(id.clone()),
            ..TaskListQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(listed.tasks, std::slice::from_ref(&done));
    assert_eq!(api.device_tasks(&id).await.unwrap().tasks, [done]);

    // The stored values, streamed.
    let mut lines = api
        .bulk_parameters(&BulkParametersQuery {
            names: VERSION.into(),
            ..BulkParametersQuery::default()
        })
        .await
        .unwrap();
    let mut all = Vec::new();
    while let Some(batch) = lines.next_batch().await.unwrap() {
        all.extend(batch);
    }
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].device_id, id);
    assert!(all[0].value.is_some());

    // A job.
    let mut create = CreateJob::new(
        &TaskDefinition::Reboot {},
        JobDevices::Devices(vec![device.serial_number.clone()]),
    );
    create.max_failures = Some("0".parse().unwrap());
    let job = api.create_job(&create).await.unwrap();
    assert_eq!((job.total, job.kind()), (1, Some("reboot")));
    assert_eq!(job.task(), Some(TaskDefinition::Reboot {}));
    assert!(sim.run_session(0, vec![]).await.unwrap().succeeded());
    let mut job = api.job(job.id).await.unwrap();
    for _ in 0..100 {
        if job.state != JobStateName::Running {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        job = api.job(job.id).await.unwrap();
    }
    assert_eq!((job.state, job.counts.done), (JobStateName::Finished, 1));
    let tasks = api
        .job_tasks(job.id, &JobTasksQuery::default())
        .await
        .unwrap();
    assert_eq!(tasks.tasks.len(), 1);
    assert!(tasks.tasks[0].rollout.is_some());
    let jobs = api.list_jobs(&JobListQuery::default()).await.unwrap();
    assert_eq!(jobs.jobs, [job]);
    let faults = api.list_faults(&FaultListQuery::default()).await.unwrap();
    assert!(faults.faults.is_empty());
    let cleared = api.clear_faults(&ClearFaults::default()).await.unwrap();
    assert_eq!(cleared.cleared, 0);

    // Files.
    let file = api
        .upload_file(
            &UploadQuery {
                name: "notes.txt".into(),
                ..UploadQuery::default()
            },
            reqwest::Body::from("hello"),
        )
        .await
        .unwrap();
    assert_eq!((file.file_type.as_str(), file.size), ("other", 5));
    assert_eq!(api.file(file.id).await.unwrap(), file);
    let files = api.list_files(&FileListQuery::default()).await.unwrap();
    assert_eq!(files.files, std::slice::from_ref(&file));
    let log = api
        .device_transfers(&id, &TransferQuery::default())
        .await
        .unwrap();
    assert_eq!((log.ok, log.failed), (0, 0));
    api.delete_file(file.id).await.unwrap();
    assert_eq!(api.file(file.id).await.unwrap_err().status(), Some(404));

    // Provisioning.
    let rule = api
        .add_rule(&ProvisionRuleInput {
            name: "typed".into(),
            filter: Some(format!("id = \"{id}\"")),
            parameters: Some(vec![SetValue {
                name: "Device.ManagementServer.PeriodicInformInterval".into(),
                value: "600".into(),
                value_type: Some("xsd:unsignedInt".into()),
            }]),
            ..ProvisionRuleInput::default()
        })
        .await
        .unwrap();
    assert_eq!((rule.order, rule.source.as_str()), (100, "api"));
    assert_eq!(api.rule("typed").await.unwrap(), rule);
    assert_eq!(api.list_rules().await.unwrap(), [rule]);
    assert!(api.device_provisioning(&id).await.unwrap().is_empty());
    let reset = api
        .reset_provisioning(&id, &ResetQuery::default())
        .await
        .unwrap();
    assert_eq!(reset.reset, 0);
    api.remove_rule("typed").await.unwrap();

    // Failures are typed: the API's code and a filter's column; no server at all.
    let err = api
        .count_devices(&CountQuery {
            filter: Some("serial ~".into()),
        })
        .await
        .unwrap_err();
    let failure = err.api().expect("an API error");
    assert_eq!(
        (failure.status, failure.body.error.as_str()),
        (400, "invalid_filter")
    );
    assert!(failure.body.position.is_some());
    let nowhere = Client::new(
        reqwest::Client::new(),
        "http://127.0.0.1:9".parse().unwrap(),
        "t",
    );
    assert!(matches!(
        nowhere.count_devices(&CountQuery::default()).await,
        Err(ClientError::Transport { .. })
    ));
    app.cleanup().await;
}
