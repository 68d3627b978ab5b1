using Jamba.Training;

namespace Jamba.Quickstart;

/// <summary>
/// Splits the user's rows into training and test sets per class, so every class with at least two rows is present in
/// both (a random split of a small or skewed file can leave a class out of training, which the classifier then can
/// never predict). Deterministic for a seed.
/// </summary>
public static class StratifiedSplit
{
    /// <summary>
    /// Holds out about <paramref name="testFraction"/> of each class (at least one row of every class that has two or
    /// more) and returns both parts shuffled.
    /// </summary>
    /// <exception cref="QuickstartInputException">Too few rows for a test set.</exception>
    public static (IReadOnlyList<LabeledText> Train, IReadOnlyList<LabeledText> Test) Split(IReadOnlyList<LabeledText> rows, double testFraction, ulong seed, string source)
    {
        var rng = new SplitMix64(seed);
        var train = new List<LabeledText>();
        var test = new List<LabeledText>();
        foreach (var group in rows.GroupBy(r => r.Label, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var members = group.ToArray();
            rng.Shuffle(members);
            int held = members.Length < 2 ? 0 : Math.Clamp((int)Math.Round(members.Length * testFraction), 1, members.Length - 1);
            test.AddRange(members.Take(held));
            train.AddRange(members.Skip(held));
        }
        if (test.Count == 0)
            throw new QuickstartInputException($"{source}: too few examples to hold out a test set ({rows.Count} rows; every class has a single row)");
        var trainArray = train.ToArray();
        var testArray = test.ToArray();
        rng.Shuffle(trainArray);
        rng.Shuffle(testArray);
        return (trainArray, testArray);
    }
}
