using Jamba.Lab.Experiments.Ablation;
using Jamba.Modeling;
using Jamba.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Jamba.Lab.Experiments.Needle;

/// <summary>One needle query: the true class and the model's probabilities over the <see cref="NeedleTask.Values"/> classes.</summary>
/// <param name="Context">Sequence length.</param>
/// <param name="TrueClass">The needle's value class.</param>
/// <param name="Scores">Softmax over the value tokens' logits at the answer position.</param>
public sealed record NeedlePrediction(int Context, int TrueClass, float[] Scores)
{
    /// <summary>The highest-scoring class.</summary>
    public int PredictedClass => Array.IndexOf(Scores, Scores.Max());
}

/// <summary>
/// Scores a trained model on needle queries at a given context length: the logits of the answer position,
/// restricted to the value tokens, become a probability vector over the classes (what a K-class classifier outputs).
/// The sequences come from a fixed seed per context, so every model is asked the same questions.
/// </summary>
public static class NeedleEvaluation
{
    /// <summary><paramref name="count"/> predictions of <paramref name="lm"/> at the context length of <paramref name="task"/>.</summary>
    public static IReadOnlyList<NeedlePrediction> Predict(JambaForCausalLM lm, NeedleTask task, int count, int batch = 8)
    {
        lm.eval();
        var rng = new SplitMix64(0x4EED_1E00UL + (ulong)task.SequenceLength);
        var predictions = new List<NeedlePrediction>();
        using var _ = no_grad();
        for (int done = 0; done < count; done += batch)
        {
            using var scope = NewDisposeScope();
            int rows = Math.Min(batch, count - done);
            var (ids, labels) = AblationTrainer.Batch(task, rng, rows);
            // The answer is the last token: the prediction for it is made at the position before.
            var input = ids.narrow(1, 0, task.SequenceLength - 1);
            using var output = lm.Forward(input, logitsToKeep: 1);
            var scores = output.Logits.select(1, 0).narrow(-1, task.FirstValueToken, task.Values).softmax(-1).contiguous().data<float>().ToArray();
            var truth = labels.select(1, task.SequenceLength - 1).data<long>().ToArray();
            for (int r = 0; r < rows; r++)
                predictions.Add(new NeedlePrediction(task.SequenceLength, (int)truth[r] - task.FirstValueToken, scores.AsSpan(r * task.Values, task.Values).ToArray()));
        }
        return predictions;
    }
}
