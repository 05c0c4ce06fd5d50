;; Deliberately broken GHASH functions, hand-written in wasm-dis's format under the names
;; scripts/ct-check.mjs looks for (crates/core/src/ghash_ct64.rs), each with the parameter count
;; of the real one. Its self-test analyses every function here with the configuration the real
;; ones get (GHASH in the script) and must flag each; the shipped functions must pass.
;; 1. bmul64 by shift-and-xor, branching on each bit of y (a secret operand): `if` on secret data.
;; 2. bmul64 with a 16-entry table of x's multiples indexed by 4 bits of y (Shoup's method, as the
;;    table-driven GHASH implementations do): a load from a secret address.
;; 3. Ghash::block that skips the multiply while the state Y (through `self`) is zero: `if` on
;;    secret data read through `self`.
;; 4. Ghash::block that is right but for an early exit on a bit of bmul64's result: `br_if` on
;;    secret data that only a call's result carries.
;; The broken functions' hashes start with `bad`; the last function is no test but their callee:
;; the real bmul64 as built at commit 817ac83 (wasm-opt -Oz -g), which must pass.
 (func $paysecure_core::ghash_ct64::bmul64::hbad0000000000001 (param $0 i64) (param $1 i64) (result i64)
  (local $2 i64)
  (local $3 i64)
  (loop $label
   (if
    (i32.wrap_i64
     (i64.and
      (i64.shr_u
       (local.get $1)
       (local.get $3)
      )
      (i64.const 1)
     )
    )
    (then
     (local.set $2
      (i64.xor
       (local.get $2)
       (i64.shl
        (local.get $0)
        (local.get $3)
       )
      )
     )
    )
   )
   (br_if $label
    (i64.ne
     (local.tee $3
      (i64.add
       (local.get $3)
       (i64.const 1)
      )
     )
     (i64.const 64)
    )
   )
  )
  (local.get $2)
 )
 (func $paysecure_core::ghash_ct64::bmul64::hbad0000000000002 (param $0 i64) (param $1 i64) (result i64)
  (local $2 i64)
  (local $3 i64)
  (local $4 i32)
  (local.set $4
   (i32.sub
    (global.get $__stack_pointer)
    (i32.const 128)
   )
  )
  (i64.store
   (local.get $4)
   (i64.const 0)
  )
  (i64.store offset=8
   (local.get $4)
   (local.get $0)
  )
  (loop $label
   (i64.store offset=16
    (i32.add
     (local.get $4)
     (i32.wrap_i64
      (local.get $3)
     )
    )
    (i64.xor
     (i64.load offset=8
      (i32.add
       (local.get $4)
       (i32.wrap_i64
        (local.get $3)
       )
      )
     )
     (local.get $0)
    )
   )
   (br_if $label
    (i64.ne
     (local.tee $3
      (i64.add
       (local.get $3)
       (i64.const 8)
      )
     )
     (i64.const 112)
    )
   )
  )
  (local.set $3
   (i64.const 60)
  )
  (loop $label1
   (local.set $2
    (i64.xor
     (i64.shl
      (local.get $2)
      (i64.const 4)
     )
     (i64.load
      (i32.add
       (local.get $4)
       (i32.shl
        (i32.wrap_i64
         (i64.and
          (i64.shr_u
           (local.get $1)
           (local.get $3)
          )
          (i64.const 15)
         )
        )
        (i32.const 3)
       )
      )
     )
    )
   )
   (br_if $label1
    (i64.ge_s
     (local.tee $3
      (i64.sub
       (local.get $3)
       (i64.const 4)
      )
     )
     (i64.const 0)
    )
   )
  )
  (local.get $2)
 )
 (func $paysecure_core::ghash_ct64::Ghash::block::hbad0000000000003 (param $0 i32) (param $1 i32)
  (if
   (i64.eqz
    (i64.or
     (i64.load offset=16
      (local.get $0)
     )
     (i64.load offset=24
      (local.get $0)
     )
    )
   )
   (then
    (i64.store offset=16
     (local.get $0)
     (i64.load
      (local.get $1)
     )
    )
    (i64.store offset=24
     (local.get $0)
     (i64.load offset=8
      (local.get $1)
     )
    )
    (return)
   )
  )
  (i64.store offset=16
   (local.get $0)
   (call $paysecure_core::ghash_ct64::bmul64::h3a86227c8c212326
    (i64.xor
     (i64.load offset=16
      (local.get $0)
     )
     (i64.load
      (local.get $1)
     )
    )
    (i64.load
     (local.get $0)
    )
   )
  )
 )
 (func $paysecure_core::ghash_ct64::Ghash::block::hbad0000000000004 (param $0 i32) (param $1 i32)
  (local $2 i64)
  (block $block
   (br_if $block
    (i32.wrap_i64
     (i64.and
      (local.tee $2
       (call $paysecure_core::ghash_ct64::bmul64::h3a86227c8c212326
        (i64.xor
         (i64.load offset=16
          (local.get $0)
         )
         (i64.load
          (local.get $1)
         )
        )
        (i64.load
         (local.get $0)
        )
       )
      )
      (i64.const 1)
     )
    )
   )
   (local.set $2
    (i64.xor
     (local.get $2)
     (i64.const -4467570830351532032)
    )
   )
  )
  (i64.store offset=16
   (local.get $0)
   (local.get $2)
  )
 )
 (func $paysecure_core::ghash_ct64::bmul64::h3a86227c8c212326 (param $0 i64) (param $1 i64) (result i64)
  (local $2 i32)
  (local $3 i32)
  (local $4 i32)
  (local $5 i32)
  (local $6 i64)
  (local $7 i64)
  (loop $label1
   (if
    (i32.eqz
     (i32.eq
      (local.get $2)
      (i32.const 32)
     )
    )
    (then
     (local.set $7
      (i64.const 0)
     )
     (local.set $3
      (i32.const -32)
     )
     (local.set $5
      (local.get $4)
     )
     (loop $label
      (if
       (local.get $3)
       (then
        (local.set $7
         (i64.xor
          (i64.mul
           (i64.and
            (i64.load
             (i32.add
              (local.get $3)
              (i32.const 1052264)
             )
            )
            (local.get $0)
           )
           (i64.and
            (i64.load offset=1052232
             (i32.shl
              (i32.and
               (local.get $5)
               (i32.const 3)
              )
              (i32.const 3)
             )
            )
            (local.get $1)
           )
          )
          (local.get $7)
         )
        )
        (local.set $5
         (i32.sub
          (local.get $5)
          (i32.const 1)
         )
        )
        (local.set $3
         (i32.add
          (local.get $3)
          (i32.const 8)
         )
        )
        (br $label)
       )
      )
     )
     (local.set $4
      (i32.add
       (local.get $4)
       (i32.const 1)
      )
     )
     (local.set $6
      (i64.or
       (i64.and
        (i64.load
         (i32.add
          (local.get $2)
          (i32.const 1052232)
         )
        )
        (local.get $7)
       )
       (local.get $6)
      )
     )
     (local.set $2
      (i32.add
       (local.get $2)
       (i32.const 8)
      )
     )
     (br $label1)
    )
   )
  )
  (local.get $6)
 )
