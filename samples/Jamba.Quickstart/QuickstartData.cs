namespace Jamba.Quickstart;

/// <summary>The rows a run trains and tests on, plus the sentences and prompts it shows off with.</summary>
public sealed class QuickstartData
{
    /// <summary>Training rows.</summary>
    public required IReadOnlyList<LabeledText> Train { get; init; }
    /// <summary>Test rows (never trained on).</summary>
    public required IReadOnlyList<LabeledText> Test { get; init; }
    /// <summary>A one-line description of where the rows came from.</summary>
    public required string Source { get; init; }
    /// <summary>Why the task is interesting, printed under the examples; null for the user's data.</summary>
    public string? Explanation { get; init; }
    /// <summary>Sentences for the reloaded classifier (with the expected label when known, else an empty label).</summary>
    public required IReadOnlyList<LabeledText> NewExamples { get; init; }
    /// <summary>Prompts for the generation stage.</summary>
    public required IReadOnlyList<string> Prompts { get; init; }

    /// <summary>The classes present in the training rows, in ordinal order (the order of the classifier's scores).</summary>
    public IReadOnlyList<string> Classes => Train.Select(r => r.Label).Distinct().Order(StringComparer.Ordinal).ToList();

    /// <summary>
    /// The user's file split 80/20 per class when <see cref="QuickstartOptions.DataPath"/> is set, else the
    /// generated <see cref="FirstMentionTask"/> (training and test rows from different seeds).
    /// </summary>
    /// <exception cref="QuickstartInputException">The data file is missing, empty, malformed or has one class.</exception>
    public static QuickstartData Load(QuickstartOptions o)
    {
        if (o.DataPath is string path)
        {
            var rows = DataFile.Read(path);
            var (train, test) = StratifiedSplit.Split(rows, 0.2, (ulong)o.Seed, $"data file {path}");
            return new QuickstartData
            {
                Train = train, Test = test,
                Source = $"{path} ({rows.Count} rows, split 80/20 per class with seed {o.Seed})",
                NewExamples = test.Take(4).ToList(),
                Prompts = new[] { Prefix(test[0].Text) },
            };
        }
        ulong seed = (ulong)o.Seed;
        return new QuickstartData
        {
            // Different seeds for the two sets: the test stories are new draws, not a slice of the training ones.
            Train = FirstMentionTask.Generate(o.TrainRows, seed * 2 + 1),
            Test = FirstMentionTask.Generate(o.TestRows, seed * 2 + 2),
            Source = $"generated 'first mention' task (seed {o.Seed}): which animal does the story mention first?",
            Explanation = "Both orders of two animals are equally likely and the words around them are random, so a bag of words/n-grams\n" +
                          "     sees the same features either way: it can tell which two animals occur, not which came first (at best 50 %).",
            NewExamples = FirstMentionTask.NewSentences,
            // In the words of the shipped model's stories (docs/data/tiny-stories.txt).
            Prompts = new[] { "The blue cat", "In the garden, the fox" },
        };
    }

    // The first words of a user's text make a prompt in the style of their data.
    private static string Prefix(string text)
    {
        var words = text.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return words.Length == 0 ? "The" : string.Join(' ', words.Take(Math.Max(1, Math.Min(6, words.Length / 2))));
    }
}
