//! A bounded queue to a task that delivers what it receives (the dead-letter publisher), which
//! can tell its senders when everything they sent is delivered: a worker acknowledges its input
//! only after the dead letters that input caused are durable.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::{mpsc, watch};

/// The sending side; clone it for several senders.
#[derive(Debug)]
pub struct DeliveryQueue<T> {
    tx: mpsc::Sender<T>,
    sent: Arc<AtomicU64>,
    delivered: watch::Receiver<u64>,
}

impl<T> Clone for DeliveryQueue<T> {
    fn clone(&self) -> Self {
        DeliveryQueue {
            tx: self.tx.clone(),
            sent: self.sent.clone(),
            delivered: self.delivered.clone(),
        }
    }
}

/// The delivering side: receive, deliver, then [`Deliverer::delivered`].
#[derive(Debug)]
pub struct Deliverer<T> {
    rx: mpsc::Receiver<T>,
    delivered: watch::Sender<u64>,
}

/// A queue of `capacity` items between senders and one deliverer.
pub fn delivery_queue<T>(capacity: usize) -> (DeliveryQueue<T>, Deliverer<T>) {
    let (tx, rx) = mpsc::channel(capacity.max(1));
    let (delivered_tx, delivered_rx) = watch::channel(0);
    (
        DeliveryQueue {
            tx,
            sent: Arc::default(),
            delivered: delivered_rx,
        },
        Deliverer {
            rx,
            delivered: delivered_tx,
        },
    )
}

impl<T> DeliveryQueue<T> {
    /// Queues `item`, waiting while the queue is full. Errors: the deliverer is gone (the item
    /// is returned).
    pub async fn send(&self, item: T) -> Result<(), T> {
        // Counted before it is queued: `delivered` then never reports it done too early.
        self.sent.fetch_add(1, Ordering::SeqCst);
        match self.tx.send(item).await {
            Ok(()) => Ok(()),
            Err(e) => {
                self.sent.fetch_sub(1, Ordering::SeqCst);
                Err(e.0)
            }
        }
    }

    /// Waits until everything sent (through any clone) before this call is delivered. Returns
    /// `false` if the deliverer stopped first (what it had not delivered never will be).
    pub async fn delivered(&self) -> bool {
        let target = self.sent.load(Ordering::SeqCst);
        let mut delivered = self.delivered.clone();
        let reached = delivered.wait_for(|&n| n >= target).await.is_ok();
        reached
    }
}

impl<T> Deliverer<T> {
    /// The next item to deliver; `None` once every sender is gone and the queue is drained.
    /// Cancel-safe.
    pub async fn recv(&mut self) -> Option<T> {
        self.rx.recv().await
    }

    /// The item last received is delivered (durable).
    pub fn delivered(&self) {
        self.delivered.send_modify(|n| *n += 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_sender_learns_when_what_it_sent_is_delivered() {
        let (queue, mut deliverer) = delivery_queue::<u32>(4);
        queue.send(1).await.unwrap();
        queue.send(2).await.unwrap();
        let waiting = {
            let queue = queue.clone();
            tokio::spawn(async move { queue.delivered().await })
        };
        assert_eq!(deliverer.recv().await, Some(1));
        deliverer.delivered();
        tokio::task::yield_now().await;
        assert!(
            !waiting.is_finished(),
            "the second item is not delivered yet"
        );
        assert_eq!(deliverer.recv().await, Some(2));
        deliverer.delivered();
        assert!(waiting.await.unwrap());
        assert!(queue.delivered().await, "nothing sent since: done at once");
    }

    #[tokio::test]
    async fn a_deliverer_that_stops_is_reported() {
        let (queue, deliverer) = delivery_queue::<u32>(4);
        queue.send(1).await.unwrap();
        drop(deliverer);
        assert!(!queue.delivered().await);
        assert_eq!(queue.send(2).await, Err(2));
    }
}
