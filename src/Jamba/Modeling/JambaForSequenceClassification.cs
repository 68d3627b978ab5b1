using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Jamba.Modeling;

/// <summary>
/// Jamba with a sequence-classification head (the reference's <c>JambaForSequenceClassification</c>):
/// <c>score</c> (no bias) applied to the final hidden state of the last real token of each row.
/// </summary>
public sealed class JambaForSequenceClassification : nn.Module
{
    /// <summary>The decoder stack (keys <c>model.*</c>).</summary>
    public readonly JambaBackbone model;
    /// <summary>The classifier [num_labels, hidden], no bias.</summary>
    public readonly Linear score;

    /// <summary>The configuration.</summary>
    public JambaConfig Config => model.Config;

    /// <summary>Builds the classifier for <paramref name="config"/> (<see cref="JambaConfig.NumLabels"/> outputs).</summary>
    public JambaForSequenceClassification(JambaConfig config, Device? device = null, ScalarType dtype = ScalarType.Float32) : base(nameof(JambaForSequenceClassification))
    {
        model = new JambaBackbone(config, device, dtype);
        score = nn.Linear(config.HiddenSize, config.NumLabels, hasBias: false, device: device, dtype: dtype);
        RegisterComponents();
    }

    /// <summary>Returns float32 logits [batch, num_labels] and the pooled position of each row [batch].</summary>
    public (Tensor logits, Tensor pooledIndex) Forward(Tensor inputIds, Tensor? attentionMask = null)
    {
        using var scope = NewDisposeScope();
        using var backbone = model.Forward(inputIds, attentionMask);
        var index = PooledIndex(inputIds, Config.PadTokenId);
        var rows = arange(inputIds.size(0), device: inputIds.device);
        var pooled = backbone.LastHiddenState.index(new TensorIndex[] { TensorIndex.Tensor(rows), TensorIndex.Tensor(index) });
        var logits = score.forward(pooled).to_type(ScalarType.Float32);
        return (logits.MoveToOuterDisposeScope(), index.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// The reference's pooling rule: the position before the first pad token, wrapping to the last position
    /// (so rows without padding and left-padded rows use T-1; right-padded rows their last real token).
    /// </summary>
    public static Tensor PooledIndex(Tensor inputIds, int? padTokenId)
    {
        long t = inputIds.size(1);
        if (padTokenId is not int pad) return full(inputIds.size(0), t - 1, dtype: ScalarType.Int64, device: inputIds.device);
        using var scope = NewDisposeScope();
        var firstPad = inputIds.eq(pad).to_type(ScalarType.Int32).argmax(-1);
        return firstPad.sub(1).remainder(t).to_type(ScalarType.Int64).MoveToOuterDisposeScope();
    }
}
