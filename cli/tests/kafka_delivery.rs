//! The producer's delivery reports, against Apache Kafka: a record the broker refuses is a
//! failure that `flush` reports (a worker must not acknowledge its input then),
//! and a failure is reported once; what was delivered flushes clean. Deliveries are counted in
//! librdkafka's delivery callback, not a task per record.

mod common;

use common::kafka::Broker;
use msgmig_bus::kafka::{alter_topic_config, ensure_topics, KafkaConfig, KafkaPublisher, Topic};
use msgmig_bus::{Envelope, Publisher};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_the_broker_refuses_fails_the_flush_once() {
    let broker = Broker::start();
    let config = KafkaConfig {
        brokers: broker.brokers.clone(),
        topic_prefix: "delivery.".into(),
        partitions: 1,
        replication_factor: 1,
        properties: Vec::new(),
    };
    ensure_topics(&config).await.expect("topics created");
    let topic = config.topic(Topic::FileEvents);
    // The topic takes 4 KiB records; the publisher is not told (it would refuse larger ones
    // itself), so the broker is what refuses.
    alter_topic_config(&config, &topic, &[("max.message.bytes", "4096")])
        .await
        .expect("topic altered");
    let publisher: KafkaPublisher<String> =
        KafkaPublisher::new(&config, topic, 1).expect("producer");
    let send = |text: String| publisher.publish(Envelope::new("k", "D_1", text));

    for i in 0..50 {
        send(format!("small {i}")).await.expect("enqueued");
    }
    publisher
        .flush()
        .await
        .expect("small records are delivered");

    // Incompressible (the producer compresses with lz4): a xorshift sequence as hex.
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let noise: String = (0..8192)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            format!("{state:016x}")
        })
        .collect();
    send(noise).await.expect("enqueued");
    send("after".into()).await.expect("enqueued");
    let failed = publisher
        .flush()
        .await
        .expect_err("the broker refuses 128 KiB of noise");
    let text = failed.to_string();
    assert!(text.contains("not delivered"), "{text}");
    assert!(text.to_lowercase().contains("too large"), "{text}");

    send("next".into()).await.expect("enqueued");
    publisher
        .flush()
        .await
        .expect("a failure is reported once; later records deliver");
}
