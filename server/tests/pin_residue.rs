//! The server's PIN path leaves no clear PIN in freed heap memory
//! (issue #18: "the clear PIN lives only as long as the translation step,
//! zeroized").
//!
//! A test binary of its own, so that its global allocator sees only this
//! test: it wraps the system allocator and, on every deallocation while
//! armed, scans the freed block for the clear PIN in every form the
//! translation handles: its ASCII digits, its digits as byte values, its
//! packed BCD digits (the PIN field of a format-2 block, and of the
//! format-4 plain PIN field), and the format-2 clear block as hex text.
//! The scan is armed only while the server handles the request (PUT the
//! PIN: format 2 under the session key → format 4 at rest; POST the PIN:
//! format 4 → format 2 under a new session key), not while this test (the
//! client) builds or opens the blocks.

#![allow(unsafe_code, missing_docs)]

#[path = "it/common.rs"]
mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use axum::http::{Method, StatusCode};
use paysecure_core::{Pin, Version};
use serde_json::json;

use common::{enc, open_pin, TestApp};

/// The PIN: 12 digits no other value of the test has.
const PIN: &str = "739164825301";
/// Its forms in memory.
const ASCII: &[u8] = PIN.as_bytes();
const DIGITS: [u8; 12] = [7, 3, 9, 1, 6, 4, 8, 2, 5, 3, 0, 1];
const BCD: [u8; 6] = [0x73, 0x91, 0x64, 0x82, 0x53, 0x01];
const BLOCK2_HEX_UPPER: &[u8] = b"2C739164825301FF";
const BLOCK2_HEX_LOWER: &[u8] = b"2c739164825301ff";
const PATTERNS: [&[u8]; 5] = [ASCII, &DIGITS, &BCD, BLOCK2_HEX_UPPER, BLOCK2_HEX_LOWER];

static ARMED: AtomicBool = AtomicBool::new(false);
/// Hits per pattern.
static HITS: [AtomicUsize; 5] = [
    AtomicUsize::new(0),
    AtomicUsize::new(0),
    AtomicUsize::new(0),
    AtomicUsize::new(0),
    AtomicUsize::new(0),
];
/// Sizes of the last blocks that held a pattern (for the failure message).
static HIT_SIZES: [AtomicUsize; 8] = [
    AtomicUsize::new(0),
    AtomicUsize::new(0),
    AtomicUsize::new(0),
    AtomicUsize::new(0),
    AtomicUsize::new(0),
    AtomicUsize::new(0),
    AtomicUsize::new(0),
    AtomicUsize::new(0),
];
static SCANNED: AtomicUsize = AtomicUsize::new(0);

struct Scanning;

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.len() >= needle.len() && hay.windows(needle.len()).any(|w| w == needle)
}

unsafe impl GlobalAlloc for Scanning {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        System.alloc(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if ARMED.load(Ordering::Relaxed) {
            // SAFETY: the block is still ours until System.dealloc below.
            let block = std::slice::from_raw_parts(ptr, layout.size());
            SCANNED.fetch_add(1, Ordering::Relaxed);
            for (i, p) in PATTERNS.iter().enumerate() {
                if contains(block, p) {
                    let n = HITS[i].fetch_add(1, Ordering::Relaxed);
                    if let Some(slot) = HIT_SIZES.get(n % HIT_SIZES.len()) {
                        slot.store(layout.size(), Ordering::Relaxed);
                    }
                }
            }
        }
        System.dealloc(ptr, layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // A moving realloc frees the old block: scan what it held.
        if ARMED.load(Ordering::Relaxed) {
            let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
            let new = self.alloc(new_layout);
            if !new.is_null() {
                std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
            return new;
        }
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static ALLOC: Scanning = Scanning;

fn hits() -> [usize; 5] {
    std::array::from_fn(|i| HITS[i].load(Ordering::Relaxed))
}

#[test]
fn the_pin_translation_leaves_no_clear_pin_in_freed_memory() {
    // One thread: nothing but the server's handling runs while armed.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let app = TestApp::new().await;
        let token = app.issue_card().await["token"].as_str().unwrap().to_owned();
        let uri = format!("/v2/cards/{token}/pin");

        // Set the PIN: the client's work first, unarmed.
        let (s, sid) = app.session(Version::V2);
        let body = json!({"pinBlock": enc(s.encrypt_pin(&Pin::new(PIN).unwrap()).unwrap())});
        // Warm up the paths once with another PIN (lazy statics, pools).
        app.set_pin(&token, "5820").await;

        ARMED.store(true, Ordering::SeqCst);
        let r = app
            .call(Method::PUT, &uri, Some(&app.tenant_key), &[("session-id", &sid)], Some(body))
            .await;
        ARMED.store(false, Ordering::SeqCst);
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        let after_set = hits();

        // Get the PIN back: the server translates format 4 → format 2.
        let (s, sid) = app.session(Version::V2);
        ARMED.store(true, Ordering::SeqCst);
        let r = app
            .call(Method::POST, &uri, Some(&app.tenant_key), &[("session-id", &sid)], None)
            .await;
        ARMED.store(false, Ordering::SeqCst);
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        let after_get = hits();
        // The round trip worked (checked after disarming: this is the client).
        assert_eq!(open_pin(&s, &r.body["pinBlock"]), PIN);

        assert!(SCANNED.load(Ordering::Relaxed) > 100, "the scan saw the requests' blocks");
        let sizes: Vec<usize> = HIT_SIZES.iter().map(|s| s.load(Ordering::Relaxed)).collect();
        assert_eq!(
            after_set,
            [0; 5],
            "set PIN: freed blocks held the clear PIN (ascii, digits, BCD, block hex, hex lower); sizes {sizes:?}"
        );
        assert_eq!(
            after_get,
            [0; 5],
            "get PIN: freed blocks held the clear PIN (ascii, digits, BCD, block hex, hex lower); sizes {sizes:?}"
        );

        // The scanner sees a PIN left in a freed block (so the zeros above
        // mean something).
        let left = String::from_utf8(BLOCK2_HEX_UPPER.to_vec()).unwrap();
        let digits = DIGITS.to_vec();
        ARMED.store(true, Ordering::SeqCst);
        drop(std::hint::black_box(left));
        drop(std::hint::black_box(digits));
        ARMED.store(false, Ordering::SeqCst);
        let h = hits();
        assert!(h[3] > 0 && h[1] > 0, "{h:?}");
    });
}
