/**
 * The kernels of the Transformer over flat {@code float[]} tensors with explicit offsets and
 * shapes: {@link rlhf.tensor.Matmul} (blocked GEMM on the Vector API in
 * {@link rlhf.tensor.MatmulGemm}), {@link rlhf.tensor.Attention}, {@link rlhf.tensor.LayerNorm},
 * {@link rlhf.tensor.Softmax}, {@link rlhf.tensor.Gelu}, {@link rlhf.tensor.Encoder},
 * {@link rlhf.tensor.Dropout}, each with its backward, the vectorised ones with a scalar twin
 * ({@code -Drlhf.simd=false}).
 * Work is split over {@link rlhf.tensor.Parallel}'s threads; randomness is counter-based
 * ({@link rlhf.tensor.Rng}) and transcendental functions are exactly rounded sequences
 * ({@link rlhf.tensor.VectorMath}), so results do not depend on threads, batches or the JIT.
 */
package rlhf.tensor;
