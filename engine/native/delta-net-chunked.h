// The chunked (UT transform) form of the Gated DeltaNet rule and its small register-tiled gemm, over a lane
// type L (see delta-net-impl.h, which includes this file inside its level's target region). Anonymous
// namespace: private to each level's translation unit.

#pragma once

namespace resident {
namespace {

// Register tile of gemm: MR rows × NR vectors of C over kmax terms; A, B, C point at the tile.
template <class L, int MR, int NR>
void gemm_tile(const float* A, int lda, const float* B, int ldb, float* C, int ldc, int kmax, float cs, float as,
               const float* rs) {
  vec<L> acc[MR][NR];  // fully unrolled loops keep it in registers (else GCC may store it every iteration)
#pragma GCC unroll 8
  for (int r = 0; r < MR; r++)
#pragma GCC unroll 8
    for (int j = 0; j < NR; j++) acc[r][j] = L::zero();
  for (int k = 0; k < kmax; k++) {
    vec<L> b[NR];
#pragma GCC unroll 8
    for (int j = 0; j < NR; j++) b[j] = L::load(B + size_t(k) * ldb + j * L::n);
#pragma GCC unroll 8
    for (int r = 0; r < MR; r++) {
      const vec<L> a = L::set1(A[size_t(r) * lda + k]);
#pragma GCC unroll 8
      for (int j = 0; j < NR; j++) acc[r][j] = L::fma(a, b[j], acc[r][j]);
    }
  }
  for (int r = 0; r < MR; r++) {
    const vec<L> f = L::set1(rs ? as * rs[r] : as);
    for (int j = 0; j < NR; j++) {
      float* c = C + size_t(r) * ldc + j * L::n;
      const vec<L> y = L::mul(f, acc[r][j]);
      L::store(c, cs == 0.0f ? y : L::fma(L::set1(cs), L::load(c), y));
    }
  }
}

template <class L, int NR, int R = L::gemm_mr>
void gemm_rows(int mr, const float* A, int lda, const float* B, int ldb, float* C, int ldc, int kmax, float cs,
               float as, const float* rs) {
  if (mr == R) gemm_tile<L, R, NR>(A, lda, B, ldb, C, ldc, kmax, cs, as, rs);
  else if constexpr (R > 1) gemm_rows<L, NR, R - 1>(mr, A, lda, B, ldb, C, ldc, kmax, cs, as, rs);
}

// lower_k: A[i][k] = 0 for k > i, so a tile's sum stops at its last row; lower_n: only C[i][j], j <= i, is wanted.
enum class tri { none, lower_k, lower_n };

// C[i][j] = cs · C[i][j] + as · rs[i] · Σ_k A[i][k] B[k][j] for i < m, j < n (n % L::n == 0). Row-major, strides
// lda, ldb, ldc. cs == 0: C is only written. rs: per-row factors or nullptr (1).
template <class L>
void gemm(int m, int n, int k, const float* A, int lda, const float* B, int ldb, float* C, int ldc, float cs, float as,
          const float* rs, tri shape) {
  constexpr int MR = L::gemm_mr, W = L::gemm_nr * L::n;
  for (int i0 = 0; i0 < m; i0 += MR) {
    const int mr = std::min(MR, m - i0);
    const int kmax = shape == tri::lower_k ? std::min(k, i0 + mr) : k;
    const int nmax = shape == tri::lower_n ? std::min(n, (i0 + mr + L::n - 1) / L::n * L::n) : n;
    const float* a = A + size_t(i0) * lda;
    float* c = C + size_t(i0) * ldc;
    const float* r = rs ? rs + i0 : nullptr;
    int j0 = 0;
    for (; j0 + W <= nmax; j0 += W) gemm_rows<L, L::gemm_nr>(mr, a, lda, B + j0, ldb, c + j0, ldc, kmax, cs, as, r);
    for (; j0 < nmax; j0 += L::n) gemm_rows<L, 1>(mr, a, lda, B + j0, ldb, c + j0, ldc, kmax, cs, as, r);
  }
}

// Chunked form for one value head over a chunk of n <= C tokens (HF torch_chunk_gated_delta_rule; the
// UT / WY representation of flash-linear-attention's chunk_gated_delta_rule). With G the cumulative gate
// inside the chunk and D[i][j] = exp(G_i - G_j) for j <= i:
//   (I + L) [U | W] = [β v | β exp(G) k],  L[i][j] = β_i (k_i·k_j) D[i][j] for j < i (unit lower solve,
//     torch.linalg.solve_triangular(..., unitriangular=True): the diagonal β_i k_i·k_i is not used)
//   v_new = U - W S;  o = exp(G) ∘ (q S) + P v_new with P[i][j] = (q_i·k_j) D[i][j], j <= i (diagonal kept)
//   S = exp(G_last) S + (k ∘ exp(G_last - G))ᵀ v_new
// Reads x.kk / x.qk (shared by the k-head's value heads) and x.g, x.beta; uses the rest of the scratch.
template <class L>
void chunk(float* S, int dk, int dv, int n, const float* v, int ldv, float* o, int ldo, float* scr,
           const delta_net_scratch_layout& x) {
  constexpr int C = delta_net_chunk;
  const int w = dv + dk;
  float *gdiff = scr + x.gdiff, *eG = scr + x.eg, *dec = scr + x.dec, *att = scr + x.att, *pq = scr + x.pq, *uw = scr + x.uw;
  const float *g = scr + x.g, *beta = scr + x.beta, *kk = scr + x.kk, *qk = scr + x.qk, *kn = scr + x.kn;
  // The cumulative gate in double: with large gates G reaches thousands, where a float32 cumsum (HF's) loses
  // the differences G_i - G_j that D needs (1e-4 relative off the recurrent form at |g| ~ 50).
  double Gd[C], acc = 0.0;
  for (int t = 0; t < n; t++) Gd[t] = acc += double(g[t]);
  for (int t = 0; t < n; t++) eG[t] = float(std::exp(Gd[t])), dec[t] = float(std::exp(Gd[n - 1] - Gd[t]));
  for (int t = n; t < C; t++) dec[t] = 0.0f;
  // Decay rows: att = β_i · kk ∘ D below the diagonal, pq = qk ∘ D on and below it, 0 above (gemm lower_k reads it).
  for (int i = 0; i < n; i++) {
    const vec<L> bi = L::set1(beta[i]);
    float *ar = att + size_t(i) * C, *pr = pq + size_t(i) * C;
    const float *kr = kk + size_t(i) * C, *qr = qk + size_t(i) * C;
    const int jn = (i + L::n) / L::n * L::n;  // whole vectors covering j <= i
    for (int j = 0; j < jn; j++) gdiff[j] = j <= i ? float(Gd[i] - Gd[j]) : 0.0f;
    for (int j = 0; j <= i; j += L::n) {
      const vec<L> d = L::exp(L::load(gdiff + j));
      L::store(ar + j, L::mul(L::mul(L::load(kr + j), d), bi));
      L::store(pr + j, L::mul(L::load(qr + j), d));
    }
    for (int j = i + 1; j < C; j++) pr[j] = 0.0f;
  }
  // T = (I + att)⁻¹ row by row (T_i = e_i - Σ_{j<i} att[i][j] T_j, zeros above the diagonal; HF builds the same
  // inverse on its export path), then U | W = T · [β v | β exp(G) k] as one lower triangular gemm.
  float* tinv = scr + x.tinv;
  for (int i = 0; i < n; i++) {
    float* ti = tinv + size_t(i) * C;
    const float* ai = att + size_t(i) * C;
    for (int m = 0; m < C; m++) ti[m] = m == i ? 1.0f : 0.0f;
    for (int m = 0; m < i; m += L::n) {  // columns [m, m + L::n) of row i: rows j >= m of T contribute
      vec<L> s = L::zero();
      for (int j = m; j < i; j++) s = L::fma(L::set1(-ai[j]), L::load(tinv + size_t(j) * C + m), s);
      L::store(ti + m, L::add(L::load(ti + m), s));
    }
  }
  float* rhs = scr + x.rhs;
  for (int i = 0; i < n; i++) {
    float* r = rhs + size_t(i) * w;
    const vec<L> bi = L::set1(beta[i]), bk = L::set1(beta[i] * eG[i]);
    for (int c = 0; c < dv; c += L::n) L::store(r + c, L::mul(L::load(v + size_t(i) * ldv + c), bi));
    for (int c = 0; c < dk; c += L::n) L::store(r + dv + c, L::mul(L::load(kn + size_t(i) * dk + c), bk));
  }
  gemm<L>(n, w, n, tinv, C, rhs, w, uw, w, 0.0f, 1.0f, nullptr, tri::lower_k);
  // v_new = U - W S (into U); o = exp(G) ∘ (q S) + P v_new; S = exp(G_last) S + (k ∘ dec)ᵀ v_new.
  gemm<L>(n, dv, dk, uw + dv, w, S, dv, uw, w, 1.0f, -1.0f, nullptr, tri::none);
  gemm<L>(n, dv, dk, scr + x.qn, dk, S, dv, o, ldo, 0.0f, 1.0f, eG, tri::none);
  gemm<L>(n, dv, n, pq, C, uw, w, o, ldo, 1.0f, 1.0f, nullptr, tri::lower_k);
  const float* knt = scr + x.knt;
  float* kdt = scr + x.kdt;
  for (int c = 0; c < dk; c++)
    for (int t = 0; t < C; t += L::n) L::store(kdt + size_t(c) * C + t, L::mul(L::load(knt + size_t(c) * C + t), L::load(dec + t)));
  gemm<L>(dk, dv, n, kdt, C, uw, w, S, dv, eG[n - 1], 1.0f, nullptr, tri::none);
}

}  // namespace
}  // namespace resident
