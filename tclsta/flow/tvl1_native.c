/* TV-L1 on CPU, one frame pair per call: the inner loop and the warping (see tclsta/flow/native.py).
 *
 * tvl1_inner: the whole inner loop of one pair in one call.
 *
 * Same arithmetic as tvl1.py's _inner_step (OpenCV's estimateU): thresholding of the linearised
 * data term -> primal update u = v + theta * div p -> dual update of p from the forward gradient of
 * u, repeated until the summed squared change of u is at most scaled_eps or `iterations` steps ran.
 * Arrays are one pair's planes, C-contiguous: u, px, py, a [c][h][w]; grad, rho_c [h][w].
 * Returns the number of steps run; sets *converged when the stopping rule ended the loop.
 * One sweep over the rows per step: row y's primal update, then row y-1's dual update (it
 * needs the new u of rows y-1 and y, and row y's primal update needed the old p of row y-1),
 * so each plane passes through the cache once per step.
 * Built with -fopenmp-simd (SIMD hints only, no OpenMP runtime). No threads here: Python runs
 * one pair per worker thread with the GIL released (ctypes), so a call has no parallel regions
 * and no barriers. */

#include <float.h>
#include <math.h>

typedef struct {
    int c, h, w;
    long plane;
    float *restrict u, *restrict px, *restrict py;
    const float *restrict a, *restrict grad, *restrict rho_c;
    float l_t, theta, taut;
    float *restrict rho, *restrict step; /* one row each */
    const float *restrict zeros;         /* one row */
} Problem;

/* u of row y <- v + theta * div p (old p); returns the row's summed squared change of u. */
static float primal_row(const Problem *P, int y)
{
    const int w = P->w;
    const long row = (long)y * w;
    float *restrict rho = P->rho, *restrict step = P->step;
    for (int x = 0; x < w; ++x)
        rho[x] = P->rho_c[row + x];
    for (int k = 0; k < P->c; ++k) {
        const float *restrict ak = P->a + k * P->plane + row, *restrict uk = P->u + k * P->plane + row;
        for (int x = 0; x < w; ++x)
            rho[x] += ak[x] * uk[x];
    }
    const float l_t = P->l_t;
    for (int x = 0; x < w; ++x) {
        const float g = P->grad[row + x], lg = l_t * g, r = rho[x];
        step[x] = r < -lg ? l_t : r > lg ? -l_t : g > FLT_EPSILON ? -r / g : 0.0f;
    }
    float error = 0.0f;
    for (int k = 0; k < P->c; ++k) {
        const long o = k * P->plane + row;
        float *restrict uk = P->u + o;
        const float *restrict ak = P->a + o, *restrict pxk = P->px + o, *restrict pyk = P->py + o;
        const float *restrict pyk_up = y > 0 ? pyk - w : P->zeros;
        const float theta = P->theta;
        #pragma omp simd reduction(+ : error)
        for (int x = 0; x < w; ++x) {
            const float left = x > 0 ? pxk[x - 1] : 0.0f;
            const float u_new = uk[x] + step[x] * ak[x] + theta * (pxk[x] - left + pyk[x] - pyk_up[x]);
            const float d = u_new - uk[x];
            error += d * d;
            uk[x] = u_new;
        }
    }
    return error;
}

/* p of row y from the forward differences of the new u (rows y and y + 1). */
static void dual_row(const Problem *P, int y)
{
    const int w = P->w;
    const long row = (long)y * w;
    const float taut = P->taut;
    for (int k = 0; k < P->c; ++k) {
        const long o = k * P->plane + row;
        const float *restrict uk = P->u + o;
        const float *restrict below = y < P->h - 1 ? uk + w : uk; /* last row: uy = 0 */
        float *restrict pxk = P->px + o, *restrict pyk = P->py + o;
        for (int x = 0; x < w; ++x) {
            const float ux = x < w - 1 ? uk[x + 1] - uk[x] : 0.0f;
            const float uy = below[x] - uk[x];
            const float norm = 1.0f + taut * sqrtf(ux * ux + uy * uy);
            pxk[x] = (pxk[x] + taut * ux) / norm;
            pyk[x] = (pyk[x] + taut * uy) / norm;
        }
    }
}

int tvl1_inner(int c, int h, int w, float *restrict u, float *restrict px, float *restrict py,
               const float *restrict a, const float *restrict grad, const float *restrict rho_c,
               int iterations, float l_t, float theta, float taut, double scaled_eps, int *converged)
{
    float rho[w], step[w], zeros[w];
    for (int x = 0; x < w; ++x)
        zeros[x] = 0.0f;
    const Problem P = {c, h, w, (long)h * w, u, px, py, a, grad, rho_c, l_t, theta, taut, rho, step, zeros};
    *converged = 0;
    for (int it = 0; it < iterations; ++it) {
        double error = 0.0;
        for (int y = 0; y < h; ++y) {
            error += primal_row(&P, y);
            if (y > 0)
                dual_row(&P, y - 1);
        }
        dual_row(&P, h - 1);
        if (!(error > scaled_eps)) {
            *converged = 1;
            return it + 1;
        }
    }
    return iterations;
}

/* Keys cubic convolution weights (a = -0.75, as OpenCV) of the taps at -1, 0, 1, 2. */
static inline void cubic_weights(float t, float wt[4])
{
    const float a = -0.75f, t1 = t + 1.0f, s = 1.0f - t;
    wt[0] = ((a * t1 - 5.0f * a) * t1 + 8.0f * a) * t1 - 4.0f * a;
    wt[1] = ((a + 2.0f) * t - (a + 3.0f)) * t * t + 1.0f;
    wt[2] = ((a + 2.0f) * s - (a + 3.0f)) * s * s + 1.0f;
    wt[3] = 1.0f - wt[0] - wt[1] - wt[2];
}

/* One warping of one pair, as tvl1.py's warp_bicubic + the data term set-up in _one_scale:
 * the second image and its gradient (stack [3][h][w]) sampled bicubically at (x + u0, y + u1),
 * taps outside the image counting as zero; then a[0] = Ix, a[1] = Iy, grad = Ix² + Iy² and
 * rho_c = I1w - Ix u0 - Iy u1 - I0. */
void tvl1_warp(int h, int w, const float *restrict stack, const float *restrict i0, const float *restrict u,
               float *restrict a, float *restrict grad, float *restrict rho_c)
{
    const long plane = (long)h * w;
    for (int y = 0; y < h; ++y) {
        for (int x = 0; x < w; ++x) {
            const long i = (long)y * w + x;
            const float fx = (float)x + u[i], fy = (float)y + u[plane + i];
            const float x0 = floorf(fx), y0 = floorf(fy);
            float wx[4], wy[4], out[3] = {0.0f, 0.0f, 0.0f};
            cubic_weights(fx - x0, wx);
            cubic_weights(fy - y0, wy);
            const long xi0 = (long)x0, yi0 = (long)y0;
            for (int r = 0; r < 4; ++r) {
                const long yr = yi0 + r - 1;
                if (yr < 0 || yr >= h)
                    continue;
                for (int s = 0; s < 4; ++s) {
                    const long xs = xi0 + s - 1;
                    if (xs < 0 || xs >= w)
                        continue;
                    const float weight = wy[r] * wx[s];
                    const long j = yr * w + xs;
                    for (int ch = 0; ch < 3; ++ch)
                        out[ch] += stack[ch * plane + j] * weight;
                }
            }
            const float ix = out[1], iy = out[2];
            a[i] = ix;
            a[plane + i] = iy;
            grad[i] = ix * ix + iy * iy;
            rho_c[i] = out[0] - ix * u[i] - iy * u[plane + i] - i0[i];
        }
    }
}
