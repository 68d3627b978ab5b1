using Jamba.Lab.Experiments.Ablation;
using Jamba.Training;

namespace Jamba.Lab.Experiments.Needle;

/// <summary>
/// Needle in a haystack, in token ids: a haystack of random filler tokens hides one needle — a key followed by its
/// value — at a random depth; the sequence ends with a query (<c>SEP key</c>) whose answer, the needle's value, is
/// the only scored position. The value is one of <see cref="Values"/> classes, so retrieval is a K-class
/// classification whose metrics ML.NET can compute. Layout: <c>BOS f f … key value … f f SEP key | value</c>.
/// Laid out like <see cref="AssociativeRecallTask"/> (keys from id 8, then values, then filler).
/// </summary>
public sealed class NeedleTask : IAblationTask
{
    private const int Bos = 1, Separator = 3, FirstKey = 8;

    /// <summary>Creates the task at <paramref name="sequenceLength"/> tokens (the answer is the last token).</summary>
    public NeedleTask(int sequenceLength, int keys = 48, int values = 16, int fillerTokens = 24)
    {
        if (sequenceLength < 8) throw new ArgumentException("a needle sequence needs at least 8 tokens");
        SequenceLength = sequenceLength; Keys = keys; Values = values; FillerTokens = fillerTokens;
    }

    /// <summary>Distinct keys.</summary>
    public int Keys { get; }
    /// <summary>Distinct values: the classes of the retrieval.</summary>
    public int Values { get; }
    /// <summary>Distinct filler tokens.</summary>
    public int FillerTokens { get; }
    /// <summary>Token id of value class 0 (class c is this + c).</summary>
    public int FirstValueToken => FirstKey + Keys;

    /// <inheritdoc/>
    public string Name => "needle";
    /// <inheritdoc/>
    public string AccuracyMeaning => "needles retrieved (argmax = the needle's value)";
    /// <summary>Keys, then room for 48 value tokens (of which <see cref="Values"/> are used), then filler: 128 ids with the defaults.</summary>
    public int VocabSize => FirstKey + Keys + 48 + FillerTokens;
    /// <inheritdoc/>
    public int SequenceLength { get; }
    /// <inheritdoc/>
    public int DefaultSteps => 400;
    /// <inheritdoc/>
    public int DefaultBatchSize => 16;

    /// <inheritdoc/>
    public void Sample(SplitMix64 rng, Span<long> ids, Span<long> labels)
    {
        labels.Fill(-100);
        int fillerStart = FirstKey + Keys + 48;
        ids[0] = Bos;
        for (int t = 1; t < SequenceLength - 3; t++) ids[t] = fillerStart + rng.NextInt(FillerTokens);
        int key = FirstKey + rng.NextInt(Keys), value = FirstValueToken + rng.NextInt(Values);
        int depth = 1 + rng.NextInt(SequenceLength - 5);   // the needle's key position, anywhere in the haystack
        ids[depth] = key;
        ids[depth + 1] = value;
        ids[SequenceLength - 3] = Separator;
        ids[SequenceLength - 2] = key;
        ids[SequenceLength - 1] = value;
        labels[SequenceLength - 1] = value;
    }
}
