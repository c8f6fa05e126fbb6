/** A sampler that cannot be built or stepped as asked (bad config, steps, inputs), with the reason. */
export class SamplerError extends Error {
  override name = "SamplerError";
}
