/**
 * The Transformer: configuration ({@link rlhf.model.GptConfig}), the flat parameter layout
 * ({@link rlhf.model.ParamLayout}), forward/backward with a tied LM head and a scalar score head
 * ({@link rlhf.model.Gpt}), loss building blocks ({@link rlhf.model.Losses}), and generation
 * with a KV cache ({@link rlhf.model.Generator}, {@link rlhf.model.KvCache},
 * {@link rlhf.model.GenerationConfig}, {@link rlhf.model.Generation}; a batch of prompts given as
 * token arrays: {@link rlhf.model.BatchSampler}), and reward-model scoring
 * ({@link rlhf.model.RewardScorer}).
 *
 * <p>Conventions shared by every job:
 * <ul>
 *   <li>Parameters, gradients and AdamW moments are {@code float[]} of {@code ParamLayout.size()};
 *       gradients are accumulated ({@code +=}), the caller zeroes them.</li>
 *   <li>Token tensors are flat row-major (B,T): index b·T+t. Next-token targets are -1 where no
 *       loss applies (prompt tokens, padding).</li>
 *   <li>Packing: several examples per row with {@code positions} restarting at 0 and a distinct
 *       {@code segments} id per example; attention never crosses segments.</li>
 *   <li>Padding is the EOS id, right of the real tokens; a sequence's score is read at index
 *       length-1 ({@link rlhf.model.Gpt#gatherLast}).</li>
 * </ul>
 */
package rlhf.model;
