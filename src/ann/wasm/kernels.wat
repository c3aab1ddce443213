;; lookalike's exact-search kernels (WebAssembly SIMD). Compiled by scripts/build-wasm.mjs into kernels-wasm.ts.
;;
;; Layout: row-major float32 matrices whose rows are `stride` floats long, stride a multiple of 8 (rows are
;; zero-padded), so the inner loop needs no tail. All pointers are byte offsets into this module's memory.
;;
;; scripts/build-wasm.mjs makes two modules of this text: one owning its memory (the line below), and one importing
;; a shared memory instead (`env.memory`, shared, same limits), so that worker threads can scan parts of the same
;; rows at once (src/ann/scan-pool.ts). The kernels are the same.
(module
  (memory (export "memory") 1 65536)

  ;; out[r] = dot(q, row r) for r in [0, n)
  (func (export "dot1") (param $q i32) (param $data i32) (param $n i32) (param $stride i32) (param $out i32)
    (local $row i32) (local $end i32) (local $i i32) (local $qp i32) (local $rowBytes i32)
    (local $a0 v128) (local $a1 v128)
    (local.set $rowBytes (i32.shl (local.get $stride) (i32.const 2)))
    (local.set $row (local.get $data))
    (local.set $end (i32.add (local.get $data) (i32.mul (local.get $n) (local.get $rowBytes))))
    (block $done
      (loop $rows
        (br_if $done (i32.ge_u (local.get $row) (local.get $end)))
        (local.set $a0 (v128.const f32x4 0 0 0 0))
        (local.set $a1 (v128.const f32x4 0 0 0 0))
        (local.set $i (i32.const 0))
        (local.set $qp (local.get $q))
        (loop $cols
          (local.set $a0 (f32x4.add (local.get $a0)
            (f32x4.mul (v128.load (local.get $qp)) (v128.load (i32.add (local.get $row) (local.get $i))))))
          (local.set $a1 (f32x4.add (local.get $a1)
            (f32x4.mul (v128.load offset=16 (local.get $qp)) (v128.load offset=16 (i32.add (local.get $row) (local.get $i))))))
          (local.set $qp (i32.add (local.get $qp) (i32.const 32)))
          (local.set $i (i32.add (local.get $i) (i32.const 32)))
          (br_if $cols (i32.lt_u (local.get $i) (local.get $rowBytes))))
        (local.set $a0 (f32x4.add (local.get $a0) (local.get $a1)))
        (f32.store (local.get $out)
          (f32.add
            (f32.add (f32x4.extract_lane 0 (local.get $a0)) (f32x4.extract_lane 1 (local.get $a0)))
            (f32.add (f32x4.extract_lane 2 (local.get $a0)) (f32x4.extract_lane 3 (local.get $a0)))))
        (local.set $out (i32.add (local.get $out) (i32.const 4)))
        (local.set $row (i32.add (local.get $row) (local.get $rowBytes)))
        (br $rows)))
  )

  ;; Four queries at once (a 4 x stride block starting at $q): each row is read from memory once for all four.
  ;; out[j * ldo + r] = dot(query j, row r); ldo ≥ n is the length of each query's score row (a worker thread scans
  ;; rows [a, b) of a larger matrix: data and out point at row a, ldo is the whole matrix's row count).
  (func (export "dot4") (param $q i32) (param $data i32) (param $n i32) (param $stride i32) (param $out i32) (param $ldo i32)
    (local $r i32) (local $row i32) (local $i i32) (local $rowBytes i32) (local $x v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128) (local $qp i32)
    (local.set $rowBytes (i32.shl (local.get $stride) (i32.const 2)))
    (local.set $row (local.get $data))
    (local.set $r (i32.const 0))
    (block $done
      (loop $rows
        (br_if $done (i32.ge_u (local.get $r) (local.get $n)))
        (local.set $a0 (v128.const f32x4 0 0 0 0))
        (local.set $a1 (v128.const f32x4 0 0 0 0))
        (local.set $a2 (v128.const f32x4 0 0 0 0))
        (local.set $a3 (v128.const f32x4 0 0 0 0))
        (local.set $i (i32.const 0))
        (loop $cols
          (local.set $x (v128.load (i32.add (local.get $row) (local.get $i))))
          (local.set $qp (i32.add (local.get $q) (local.get $i)))
          (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $x) (v128.load (local.get $qp)))))
          (local.set $qp (i32.add (local.get $qp) (local.get $rowBytes)))
          (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $x) (v128.load (local.get $qp)))))
          (local.set $qp (i32.add (local.get $qp) (local.get $rowBytes)))
          (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $x) (v128.load (local.get $qp)))))
          (local.set $qp (i32.add (local.get $qp) (local.get $rowBytes)))
          (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $x) (v128.load (local.get $qp)))))
          (local.set $i (i32.add (local.get $i) (i32.const 16)))
          (br_if $cols (i32.lt_u (local.get $i) (local.get $rowBytes))))
        (f32.store (i32.add (local.get $out) (i32.shl (local.get $r) (i32.const 2))) (call $hsum (local.get $a0)))
        (f32.store (i32.add (local.get $out) (i32.shl (i32.add (local.get $r) (local.get $ldo)) (i32.const 2))) (call $hsum (local.get $a1)))
        (f32.store (i32.add (local.get $out) (i32.shl (i32.add (local.get $r) (i32.shl (local.get $ldo) (i32.const 1))) (i32.const 2))) (call $hsum (local.get $a2)))
        (f32.store (i32.add (local.get $out) (i32.shl (i32.add (local.get $r) (i32.mul (local.get $ldo) (i32.const 3))) (i32.const 2))) (call $hsum (local.get $a3)))
        (local.set $row (i32.add (local.get $row) (local.get $rowBytes)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rows)))
  )

  (func $hsum (param $v v128) (result f32)
    (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $v)) (f32x4.extract_lane 1 (local.get $v)))
      (f32.add (f32x4.extract_lane 2 (local.get $v)) (f32x4.extract_lane 3 (local.get $v)))))
;; out[r] = inv · dot(q, row r) for int8 rows, in integers: q is int16 (the float query with the per-dimension
  ;; scales applied, times a factor S chosen by the caller so that 127 · max|q| · stride < 2^31: no i32 overflow),
  ;; inv = 1/S. Each step widens 16 codes to i16 and multiplies-and-adds pairs into i32 lanes (i32x4.dot_i16x8_s):
  ;; about half the instructions of the float32 kernel per value, on a quarter of the bytes.
  (func (export "dot_i8") (param $q i32) (param $data i32) (param $n i32) (param $stride i32) (param $out i32) (param $inv f32)
    (local $row i32) (local $end i32) (local $i i32) (local $qp i32) (local $c v128)
    (local $a0 v128) (local $a1 v128)
    (local.set $row (local.get $data))
    (local.set $end (i32.add (local.get $data) (i32.mul (local.get $n) (local.get $stride))))
    (block $done
      (loop $rows
        (br_if $done (i32.ge_u (local.get $row) (local.get $end)))
        (local.set $a0 (v128.const i32x4 0 0 0 0))
        (local.set $a1 (v128.const i32x4 0 0 0 0))
        (local.set $i (i32.const 0))
        (local.set $qp (local.get $q))
        (loop $cols
          (local.set $c (v128.load (i32.add (local.get $row) (local.get $i))))
          (local.set $a0 (i32x4.add (local.get $a0) (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_s (local.get $c)) (v128.load (local.get $qp)))))
          (local.set $a1 (i32x4.add (local.get $a1) (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_s (local.get $c)) (v128.load offset=16 (local.get $qp)))))
          (local.set $qp (i32.add (local.get $qp) (i32.const 32)))
          (local.set $i (i32.add (local.get $i) (i32.const 16)))
          (br_if $cols (i32.lt_u (local.get $i) (local.get $stride))))
        (local.set $a0 (i32x4.add (local.get $a0) (local.get $a1)))
        (f32.store (local.get $out)
          (f32.mul (local.get $inv)
            (f32.convert_i32_s
              (i32.add
                (i32.add (i32x4.extract_lane 0 (local.get $a0)) (i32x4.extract_lane 1 (local.get $a0)))
                (i32.add (i32x4.extract_lane 2 (local.get $a0)) (i32x4.extract_lane 3 (local.get $a0)))))))
        (local.set $out (i32.add (local.get $out) (i32.const 4)))
        (local.set $row (i32.add (local.get $row) (local.get $stride)))
        (br $rows)))
  )

  ;; out[r] = inv · scale_r · dot(q, codes_r) for rows of 16-bit codes (`float16` collections): each row is `stride`
  ;; int16 codes (stride a multiple of 16) followed by 16 bytes holding the row's float32 scale (value = code · scale;
  ;; src/ann/flat.ts). q is int16 too, scaled by S = 1/inv chosen so that no partial sum can overflow 32 bits
  ;; (|Σ q·c| ≤ ‖q‖·‖c‖, Cauchy–Schwarz, with ‖c‖ the largest row's). One multiply-add of pairs into i32 lanes per
  ;; 8 values (i32x4.dot_i16x8_s) and no conversion: half the bytes of float32 and fewer instructions per value.
  (func (export "dot_i16") (param $q i32) (param $data i32) (param $n i32) (param $stride i32) (param $out i32) (param $inv f32)
    (local $row i32) (local $end i32) (local $i i32) (local $qp i32) (local $rowBytes i32) (local $codeBytes i32)
    (local $a0 v128) (local $a1 v128)
    (local.set $codeBytes (i32.shl (local.get $stride) (i32.const 1)))
    (local.set $rowBytes (i32.add (local.get $codeBytes) (i32.const 16)))
    (local.set $row (local.get $data))
    (local.set $end (i32.add (local.get $data) (i32.mul (local.get $n) (local.get $rowBytes))))
    (block $done
      (loop $rows
        (br_if $done (i32.ge_u (local.get $row) (local.get $end)))
        (local.set $a0 (v128.const i32x4 0 0 0 0))
        (local.set $a1 (v128.const i32x4 0 0 0 0))
        (local.set $i (i32.const 0))
        (local.set $qp (local.get $q))
        (loop $cols
          (local.set $a0 (i32x4.add (local.get $a0) (i32x4.dot_i16x8_s (v128.load (i32.add (local.get $row) (local.get $i))) (v128.load (local.get $qp)))))
          (local.set $a1 (i32x4.add (local.get $a1) (i32x4.dot_i16x8_s (v128.load offset=16 (i32.add (local.get $row) (local.get $i))) (v128.load offset=16 (local.get $qp)))))
          (local.set $qp (i32.add (local.get $qp) (i32.const 32)))
          (local.set $i (i32.add (local.get $i) (i32.const 32)))
          (br_if $cols (i32.lt_u (local.get $i) (local.get $codeBytes))))
        (local.set $a0 (i32x4.add (local.get $a0) (local.get $a1)))
        (f32.store (local.get $out)
          (f32.mul (f32.mul (local.get $inv) (f32.load (i32.add (local.get $row) (local.get $codeBytes))))
            (f32.convert_i32_s
              (i32.add
                (i32.add (i32x4.extract_lane 0 (local.get $a0)) (i32x4.extract_lane 1 (local.get $a0)))
                (i32.add (i32x4.extract_lane 2 (local.get $a0)) (i32x4.extract_lane 3 (local.get $a0)))))))
        (local.set $out (i32.add (local.get $out) (i32.const 4)))
        (local.set $row (i32.add (local.get $row) (local.get $rowBytes)))
        (br $rows)))
  )
)
