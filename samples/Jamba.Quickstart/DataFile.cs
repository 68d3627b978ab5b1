namespace Jamba.Quickstart;

/// <summary>
/// Reads the user's <c>--data</c> file: tab-separated, a header row with a <c>Text</c> and a <c>Label</c> column (any
/// order, any case, other columns ignored), one example per line. Every problem is a
/// <see cref="QuickstartInputException"/> whose one-line message names the file and the problem, raised before the
/// quickstart writes anything.
/// </summary>
public static class DataFile
{
    /// <summary>The text column's header name.</summary>
    public const string TextColumn = "Text";
    /// <summary>The label column's header name.</summary>
    public const string LabelColumn = "Label";

    /// <summary>Reads and checks the file: it exists, has the two columns, at least one row and at least two classes.</summary>
    public static IReadOnlyList<LabeledText> Read(string path)
    {
        if (!File.Exists(path)) throw new QuickstartInputException($"data file not found: {path}");
        string[] lines;
        try { lines = File.ReadAllLines(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new QuickstartInputException($"cannot read data file {path}: {e.Message}", e);
        }
        // Blank lines carry no example; skipping them lets a trailing newline or a blank separator pass.
        var content = lines.Select((line, i) => (line: line.TrimEnd('\r'), number: i + 1)).Where(l => l.line.Trim().Length > 0).ToList();
        if (content.Count == 0) throw new QuickstartInputException($"data file {path} is empty: expected a header row with '{TextColumn}' and '{LabelColumn}' columns (tab-separated) and one example per line");

        string[] header = content[0].line.Split('\t').Select(h => h.Trim()).ToArray();
        int text = Column(header, TextColumn), label = Column(header, LabelColumn);
        if (text < 0 || label < 0)
        {
            string missing = text < 0 && label < 0 ? $"'{TextColumn}' and '{LabelColumn}' columns" : $"'{(text < 0 ? TextColumn : LabelColumn)}' column";
            throw new QuickstartInputException($"data file {path}: the header has no {missing} (found: {string.Join(", ", header.Select(h => $"'{h}'"))}); " +
                $"the first line must name the tab-separated columns, e.g. '{TextColumn}<TAB>{LabelColumn}'");
        }

        var rows = new List<LabeledText>();
        foreach (var (line, number) in content.Skip(1))
        {
            string[] fields = line.Split('\t');
            if (fields.Length <= Math.Max(text, label))
                throw new QuickstartInputException($"data file {path} line {number}: {fields.Length} tab-separated field(s), the header has {header.Length}");
            string value = fields[label].Trim();
            if (value.Length == 0) throw new QuickstartInputException($"data file {path} line {number}: the '{LabelColumn}' field is empty");
            rows.Add(new LabeledText { Text = fields[text], Label = value });
        }
        if (rows.Count == 0) throw new QuickstartInputException($"data file {path} has a header but no examples");
        var classes = rows.Select(r => r.Label).Distinct(StringComparer.Ordinal).ToList();
        if (classes.Count < 2)
            throw new QuickstartInputException($"data file {path}: the '{LabelColumn}' column has only one class ('{classes[0]}'); a classifier needs at least two");
        return rows;
    }

    private static int Column(string[] header, string name) =>
        Array.FindIndex(header, h => string.Equals(h, name, StringComparison.OrdinalIgnoreCase));
}
