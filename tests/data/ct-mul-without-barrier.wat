;; paysecure_montgomery::Modulus::mul as the wasm build compiled it before the select had a barrier
;; (commit 94d7a26, wasm-opt -Oz -g): the masked select became `br_if` + `memory.copy`, a branch on
;; secret data. scripts/ct-check.mjs must find it (its self-test).
 (func $paysecure_montgomery::Modulus::mul::h053b5633ee703a0c (param $0 i32) (param $1 i32) (param $2 i32) (param $3 i32) (param $4 i32) (param $5 i32) (param $6 i32) (param $7 i32) (param $8 i32)
  (local $9 i64)
  (local $10 i64)
  (local $11 i64)
  (local $12 i32)
  (local $13 i32)
  (local $14 i32)
  (local $15 i32)
  (local $16 i32)
  (local $17 i32)
  (local $18 i32)
  (local $19 i32)
  (local $20 i32)
  (local $21 i32)
  (local $22 i32)
  (local $23 i32)
  (local $scratch i32)
  (block $block6
   (block $block1
    (block $block
     (if
      (i32.ge_u
       (local.get $4)
       (local.tee $12
        (i32.load offset=8
         (local.get $0)
        )
       )
      )
      (then
       (br_if $block
        (i32.lt_u
         (local.get $6)
         (local.get $12)
        )
       )
       (br_if $block1
        (i32.gt_u
         (local.tee $14
          (i32.shl
           (local.get $12)
           (i32.const 1)
          )
         )
         (local.get $8)
        )
       )
       (if
        (local.tee $4
         (i32.shl
          (local.get $12)
          (i32.const 3)
         )
        )
        (then
         (memory.fill
          (local.get $7)
          (i32.const 0)
          (local.get $4)
         )
        )
       )
       (block $block5
        (block $block3
         (block $block2
          (br_if $block2
           (i32.eqz
            (local.get $12)
           )
          )
          (local.set $19
           (i32.add
            (local.get $3)
            (local.tee $18
             (i32.shl
              (local.get $12)
              (i32.const 2)
             )
            )
           )
          )
          (local.set $20
           (select
            (local.tee $4
             (i32.sub
              (local.get $14)
              (local.get $12)
             )
            )
            (i32.const 0)
            (i32.le_u
             (local.get $4)
             (local.get $14)
            )
           )
          )
          (local.set $21
           (i32.and
            (local.get $12)
            (i32.const 536870910)
           )
          )
          (local.set $22
           (i32.and
            (local.get $12)
            (i32.const 1)
           )
          )
          (local.set $17
           (i32.sub
            (local.get $12)
            (i32.const 1)
           )
          )
          (local.set $15
           (local.get $7)
          )
          (loop $label1
           (br_if $block3
            (i32.gt_u
             (local.tee $16
              (i32.add
               (local.get $12)
               (local.get $13)
              )
             )
             (local.get $14)
            )
           )
           (local.set $10
            (i64.load32_u
             (local.get $3)
            )
           )
           (local.set $8
            (i32.const 0)
           )
           (local.set $9
            (i64.const 0)
           )
           (block $block4
            (if
             (local.get $17)
             (then
              (local.set $6
               (local.get $5)
              )
              (local.set $4
               (local.get $15)
              )
              (loop $label
               (i64.store32
                (local.get $4)
                (local.tee $9
                 (i64.add
                  (i64.add
                   (local.get $9)
                   (i64.load32_u
                    (local.get $4)
                   )
                  )
                  (i64.mul
                   (i64.load32_u
                    (local.get $6)
                   )
                   (local.get $10)
                  )
                 )
                )
               )
               (i64.store32
                (local.tee $23
                 (i32.add
                  (local.get $4)
                  (i32.const 4)
                 )
                )
                (local.tee $9
                 (i64.add
                  (i64.add
                   (i64.load32_u
                    (local.get $23)
                   )
                   (i64.shr_u
                    (local.get $9)
                    (i64.const 32)
                   )
                  )
                  (i64.mul
                   (i64.load32_u
                    (i32.add
                     (local.get $6)
                     (i32.const 4)
                    )
                   )
                   (local.get $10)
                  )
                 )
                )
               )
               (local.set $9
                (i64.shr_u
                 (local.get $9)
                 (i64.const 32)
                )
               )
               (local.set $6
                (i32.add
                 (local.get $6)
                 (i32.const 8)
                )
               )
               (local.set $4
                (i32.add
                 (local.get $4)
                 (i32.const 8)
                )
               )
               (br_if $label
                (i32.ne
                 (local.get $21)
                 (local.tee $8
                  (i32.add
                   (local.get $8)
                   (i32.const 2)
                  )
                 )
                )
               )
              )
              (br_if $block4
               (i32.eqz
                (local.get $22)
               )
              )
             )
            )
            (i64.store32
             (local.tee $6
              (i32.add
               (local.tee $4
                (i32.shl
                 (local.get $8)
                 (i32.const 2)
                )
               )
               (i32.add
                (local.get $7)
                (i32.shl
                 (local.get $13)
                 (i32.const 2)
                )
               )
              )
             )
             (local.tee $9
              (i64.add
               (i64.add
                (local.get $9)
                (i64.load32_u
                 (local.get $6)
                )
               )
               (i64.mul
                (i64.load32_u
                 (i32.add
                  (local.get $4)
                  (local.get $5)
                 )
                )
                (local.get $10)
               )
              )
             )
            )
            (local.set $9
             (i64.shr_u
              (local.get $9)
              (i64.const 32)
             )
            )
           )
           (br_if $block5
            (i32.eq
             (local.get $13)
             (local.get $20)
            )
           )
           (local.set $13
            (i32.add
             (local.get $13)
             (i32.const 1)
            )
           )
           (i64.store32
            (i32.add
             (local.get $7)
             (i32.shl
              (local.get $16)
              (i32.const 2)
             )
            )
            (local.get $9)
           )
           (local.set $15
            (i32.add
             (local.get $15)
             (i32.const 4)
            )
           )
           (br_if $label1
            (i32.ne
             (local.tee $3
              (i32.add
               (local.get $3)
               (i32.const 4)
              )
             )
             (local.get $19)
            )
           )
          )
          (br_if $block6
           (i32.lt_u
            (local.get $2)
            (local.get $12)
           )
          )
          (local.set $2
           (i32.load offset=4
            (local.get $0)
           )
          )
          (local.set $3
           (i32.and
            (local.get $12)
            (i32.const 536870910)
           )
          )
          (local.set $5
           (i32.and
            (local.get $12)
            (i32.const 1)
           )
          )
          (local.set $14
           (i32.load offset=24
            (local.get $0)
           )
          )
          (local.set $13
           (i32.const 0)
          )
          (local.set $10
           (i64.const 0)
          )
          (local.set $15
           (local.get $7)
          )
          (loop $label3
           (local.set $11
            (i64.extend_i32_u
             (i32.mul
              (local.get $14)
              (i32.load
               (local.tee $0
                (i32.add
                 (local.get $7)
                 (i32.shl
                  (local.get $13)
                  (i32.const 2)
                 )
                )
               )
              )
             )
            )
           )
           (local.set $9
            (i64.const 0)
           )
           (local.set $8
            (i32.const 0)
           )
           (block $block7
            (if
             (local.get $17)
             (then
              (local.set $6
               (local.get $2)
              )
              (local.set $4
               (local.get $15)
              )
              (loop $label2
               (i64.store32
                (local.get $4)
                (local.tee $9
                 (i64.add
                  (i64.add
                   (local.get $9)
                   (i64.load32_u
                    (local.get $4)
                   )
                  )
                  (i64.mul
                   (i64.load32_u
                    (local.get $6)
                   )
                   (local.get $11)
                  )
                 )
                )
               )
               (i64.store32
                (local.tee $16
                 (i32.add
                  (local.get $4)
                  (i32.const 4)
                 )
                )
                (local.tee $9
                 (i64.add
                  (i64.add
                   (i64.load32_u
                    (local.get $16)
                   )
                   (i64.shr_u
                    (local.get $9)
                    (i64.const 32)
                   )
                  )
                  (i64.mul
                   (i64.load32_u
                    (i32.add
                     (local.get $6)
                     (i32.const 4)
                    )
                   )
                   (local.get $11)
                  )
                 )
                )
               )
               (local.set $9
                (i64.shr_u
                 (local.get $9)
                 (i64.const 32)
                )
               )
               (local.set $6
                (i32.add
                 (local.get $6)
                 (i32.const 8)
                )
               )
               (local.set $4
                (i32.add
                 (local.get $4)
                 (i32.const 8)
                )
               )
               (br_if $label2
                (i32.ne
                 (local.get $3)
                 (local.tee $8
                  (i32.add
                   (local.get $8)
                   (i32.const 2)
                  )
                 )
                )
               )
              )
              (br_if $block7
               (i32.eqz
                (local.get $5)
               )
              )
             )
            )
            (i64.store32
             (local.tee $6
              (i32.add
               (local.get $0)
               (local.tee $4
                (i32.shl
                 (local.get $8)
                 (i32.const 2)
                )
               )
              )
             )
             (local.tee $9
              (i64.add
               (i64.add
                (local.get $9)
                (i64.load32_u
                 (local.get $6)
                )
               )
               (i64.mul
                (i64.load32_u
                 (i32.add
                  (local.get $2)
                  (local.get $4)
                 )
                )
                (local.get $11)
               )
              )
             )
            )
            (local.set $9
             (i64.shr_u
              (local.get $9)
              (i64.const 32)
             )
            )
           )
           (i64.store32
            (local.tee $0
             (i32.add
              (local.get $0)
              (local.tee $4
               (i32.shl
                (local.get $12)
                (i32.const 2)
               )
              )
             )
            )
            (local.tee $9
             (i64.add
              (i64.load32_u
               (local.get $0)
              )
              (i64.add
               (local.get $9)
               (local.get $10)
              )
             )
            )
           )
           (local.set $10
            (i64.shr_u
             (local.get $9)
             (i64.const 32)
            )
           )
           (local.set $15
            (i32.add
             (local.get $15)
             (i32.const 4)
            )
           )
           (br_if $label3
            (i32.ne
             (local.tee $13
              (i32.add
               (local.get $13)
               (i32.const 1)
              )
             )
             (local.get $12)
            )
           )
          )
          (local.set $0
           (i32.add
            (local.get $4)
            (local.get $7)
           )
          )
          (block $block9
           (block $block8
            (if
             (i32.eqz
              (local.get $17)
             )
             (then
              (local.set $3
               (i32.const 0)
              )
              (local.set $9
               (i64.const 0)
              )
              (br $block8)
             )
            )
            (br_if $block9
             (i32.eqz
              (block (result i32)
               (local.set $scratch
                (i32.and
                 (local.get $12)
                 (i32.const 1)
                )
               )
               (local.set $7
                (i32.and
                 (local.get $12)
                 (i32.const 536870910)
                )
               )
               (local.set $3
                (i32.const 0)
               )
               (local.set $9
                (i64.const 0)
               )
               (local.set $4
                (local.get $2)
               )
               (local.set $6
                (local.get $0)
               )
               (local.set $8
                (local.get $1)
               )
               (loop $label4
                (i64.store32
                 (local.get $8)
                 (local.tee $9
                  (i64.sub
                   (i64.load32_u
                    (local.get $6)
                   )
                   (i64.add
                    (local.get $9)
                    (i64.load32_u
                     (local.get $4)
                    )
                   )
                  )
                 )
                )
                (i64.store32
                 (i32.add
                  (local.get $8)
                  (i32.const 4)
                 )
                 (local.tee $9
                  (i64.sub
                   (i64.load32_u
                    (i32.add
                     (local.get $6)
                     (i32.const 4)
                    )
                   )
                   (i64.add
                    (i64.load32_u
                     (i32.add
                      (local.get $4)
                      (i32.const 4)
                     )
                    )
                    (i64.shr_u
                     (local.get $9)
                     (i64.const 63)
                    )
                   )
                  )
                 )
                )
                (local.set $9
                 (i64.shr_u
                  (local.get $9)
                  (i64.const 63)
                 )
                )
                (local.set $4
                 (i32.add
                  (local.get $4)
                  (i32.const 8)
                 )
                )
                (local.set $6
                 (i32.add
                  (local.get $6)
                  (i32.const 8)
                 )
                )
                (local.set $8
                 (i32.add
                  (local.get $8)
                  (i32.const 8)
                 )
                )
                (br_if $label4
                 (i32.ne
                  (local.get $7)
                  (local.tee $3
                   (i32.add
                    (local.get $3)
                    (i32.const 2)
                   )
                  )
                 )
                )
               )
               (local.get $scratch)
              )
             )
            )
           )
           (i64.store32
            (i32.add
             (local.get $1)
             (local.tee $3
              (i32.shl
               (local.get $3)
               (i32.const 2)
              )
             )
            )
            (local.tee $9
             (i64.sub
              (i64.load32_u
               (i32.add
                (local.get $0)
                (local.get $3)
               )
              )
              (i64.add
               (local.get $9)
               (i64.load32_u
                (i32.add
                 (local.get $2)
                 (local.get $3)
                )
               )
              )
             )
            )
           )
           (local.set $9
            (i64.shr_u
             (local.get $9)
             (i64.const 63)
            )
           )
          )
          (br_if $block2
           (i32.or
            (i32.eqz
             (local.get $18)
            )
            (i64.le_u
             (local.get $9)
             (local.get $10)
            )
           )
          )
          (memory.copy
           (local.get $1)
           (local.get $0)
           (local.get $18)
          )
         )
         (return)
        )
        (call $"core[c5930c85a12de822]::slice::index::slice_index_fail"
         (local.get $13)
         (local.get $16)
         (local.get $14)
         (i32.const 1060324)
        )
        (unreachable)
       )
       (call $"core[c5930c85a12de822]::panicking::panic_bounds_check"
        (local.get $16)
        (local.get $14)
        (i32.const 1060308)
       )
       (unreachable)
      )
     )
     (call $"core[c5930c85a12de822]::slice::index::slice_index_fail"
      (i32.const 0)
      (local.get $12)
      (local.get $4)
      (i32.const 1060356)
     )
     (unreachable)
    )
    (call $"core[c5930c85a12de822]::slice::index::slice_index_fail"
     (i32.const 0)
     (local.get $12)
     (local.get $6)
     (i32.const 1060292)
    )
    (unreachable)
   )
   (call $"core[c5930c85a12de822]::slice::index::slice_index_fail"
    (i32.const 0)
    (local.get $14)
    (local.get $8)
    (i32.const 1060340)
   )
   (unreachable)
  )
  (call $"core[c5930c85a12de822]::slice::index::slice_index_fail"
   (i32.const 0)
   (local.get $12)
   (local.get $2)
   (i32.const 1060404)
  )
  (unreachable)
 )
