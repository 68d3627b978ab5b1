using Jamba.Training;

namespace Jamba.Lab.Experiments.Ablation;

/// <summary>
/// A generated training task: it draws sequences of token ids together with their labels (the id to predict at the
/// next position, or -100 where nothing is scored), so training data is unlimited and every variant sees
/// exactly the same tokens for the same seed.
/// </summary>
public interface IAblationTask
{
    /// <summary>Short name used in tables and file names (e.g. <c>lm</c>, <c>recall</c>).</summary>
    string Name { get; }
    /// <summary>What the accuracy column means for this task.</summary>
    string AccuracyMeaning { get; }
    /// <summary>Token ids are in [0, VocabSize).</summary>
    int VocabSize { get; }
    /// <summary>Length of every sequence.</summary>
    int SequenceLength { get; }
    /// <summary>Optimiser updates a full run takes when the options leave it open.</summary>
    int DefaultSteps { get; }
    /// <summary>Sequences per update when the options leave it open.</summary>
    int DefaultBatchSize { get; }

    /// <summary>
    /// Writes one sequence into <paramref name="ids"/> and its labels into <paramref name="labels"/> (both of length
    /// <see cref="SequenceLength"/>, labels aligned with ids as <c>JambaForCausalLM.Forward(labels:)</c> expects:
    /// the label at position t is scored against the prediction made at t − 1; -100 is not scored).
    /// </summary>
    void Sample(SplitMix64 rng, Span<long> ids, Span<long> labels);
}
