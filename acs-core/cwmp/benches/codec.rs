//! Codec speed (issue targets on the 2-core reference machine): (a) read an Inform with 20
//! parameters and write the InformResponse < 20 µs; (b) read a 5,000-parameter
//! GetParameterValuesResponse < 5 ms; (c) write a 500-name GetParameterValues.

use acs_cwmp::{
    self as cwmp, Body, CwmpNamespace, CwmpVersion, Envelope, Header, InformResponse,
    ParameterValue, ValueType, examples,
};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

fn ns() -> CwmpNamespace {
    CwmpNamespace::for_version(CwmpVersion::V1_2)
}

fn inform_xml() -> String {
    // 8 forced parameters + 12 more = 20.
    let env = Envelope::new(ns(), Some("1".into()), Body::Inform(examples::inform(12)));
    cwmp::encode(&env).expect("inform")
}

fn gpv_response_xml(n: usize) -> String {
    let parameter_list = (0..n)
        .map(|i| {
            let ty = if i % 3 == 0 {
                ValueType::UnsignedInt
            } else {
                ValueType::String
            };
            let value = if i % 3 == 0 {
                i.to_string()
            } else {
                format!("value {i} <with> &escapes")
            };
            ParameterValue::new(
                format!(
                    "Device.IP.Interface.{}.IPv4Address.{}.IPAddress",
                    i / 10,
                    i % 10
                ),
                value,
                ty,
            )
        })
        .collect();
    let body =
        Body::GetParameterValuesResponse(cwmp::GetParameterValuesResponse { parameter_list });
    cwmp::encode(&Envelope::new(ns(), Some("acs-1-1".into()), body)).expect("gpv response")
}

fn benches(c: &mut Criterion) {
    let inform = inform_xml();
    let mut g = c.benchmark_group("codec");
    g.throughput(Throughput::Bytes(inform.len() as u64));
    g.bench_function("a_inform20_read_and_informresponse_write", |b| {
        b.iter(|| {
            let env = cwmp::decode(black_box(inform.as_bytes())).expect("decode");
            let reply = Envelope {
                namespace: env.namespace,
                header: Header {
                    id: env.header.id,
                    ..Header::default()
                },
                body: Body::InformResponse(InformResponse { max_envelopes: 1 }),
            };
            black_box(cwmp::encode(&reply).expect("encode"))
        })
    });
    let gpv = gpv_response_xml(5000);
    g.throughput(Throughput::Bytes(gpv.len() as u64));
    g.bench_function("b_gpv_response_5000_read", |b| {
        b.iter(|| black_box(cwmp::decode(black_box(gpv.as_bytes())).expect("decode")))
    });
    let names: Vec<String> = (0..500)
        .map(|i| format!("Device.Services.VoiceService.1.VoiceProfile.1.Line.{i}.SIP.AuthUserName"))
        .collect();
    let request = Envelope::new(
        ns(),
        Some("acs-1-1".into()),
        Body::GetParameterValues(cwmp::GetParameterValues {
            parameter_names: names,
        }),
    );
    g.throughput(Throughput::Elements(500));
    g.bench_function("c_gpv_500_names_write", |b| {
        b.iter(|| black_box(cwmp::encode(black_box(&request)).expect("encode")))
    });
    g.finish();
}

criterion_group!(codec, benches);
criterion_main!(codec);
