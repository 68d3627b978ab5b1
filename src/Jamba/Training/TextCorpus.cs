using System.Text;
using System.Text.Json;
using Jamba.Chat;
using Jamba.Chat.Templates;

namespace Jamba.Training;

/// <summary>How a training data file is laid out.</summary>
public enum CorpusFormat
{
    /// <summary>Chosen from the extension: <c>.jsonl</c>/<c>.json</c> → JSONL, <c>.tsv</c> → TSV, anything else → text.</summary>
    Auto,
    /// <summary>Plain text; documents are separated by one or more blank lines.</summary>
    Text,
    /// <summary>One JSON object per line; the document is the string field named by the text column.</summary>
    Jsonl,
    /// <summary>Tab-separated with a header row; the document is the cell of the text column.</summary>
    Tsv,
    /// <summary>
    /// JSONL files (<c>.jsonl</c>/<c>.json</c>) hold one JSON object per line whose field (default <c>messages</c>) is
    /// a conversation; the document is that conversation rendered with the model's chat template, without a
    /// generation prompt. Other files of a folder are read by their extension, so plain text can be mixed in.
    /// </summary>
    Chat,
}

/// <summary>
/// Reads training documents from a file or a folder of files. Every problem (missing path, empty data, a JSONL line
/// that is not an object with the text field, a TSV without the text column) is an exception whose one-line
/// message names the file, the line and the problem.
/// </summary>
public static class TextCorpus
{
    /// <summary>Parses a format name: <c>auto</c>, <c>text</c>/<c>txt</c>, <c>jsonl</c>, <c>tsv</c>.</summary>
    public static CorpusFormat ParseFormat(string name) => name.ToLowerInvariant() switch
    {
        "auto" => CorpusFormat.Auto,
        "text" or "txt" => CorpusFormat.Text,
        "jsonl" or "json" => CorpusFormat.Jsonl,
        "tsv" => CorpusFormat.Tsv,
        "chat" => CorpusFormat.Chat,
        _ => throw new ArgumentException($"unknown data format '{name}': use text, jsonl, tsv, chat or auto"),
    };

    /// <summary>
    /// The documents of <paramref name="path"/>: a file, or a folder whose files (<c>*.txt</c>, <c>*.jsonl</c>,
    /// <c>*.tsv</c>, <c>*.md</c>, non-recursive) are read in ordinal name order.
    /// </summary>
    /// <param name="path">A file or a folder.</param>
    /// <param name="format">How the files are laid out; <see cref="CorpusFormat.Auto"/> goes by extension.</param>
    /// <param name="textColumn">The JSONL field or TSV column with the text; for <see cref="CorpusFormat.Chat"/>, the field with the messages.</param>
    /// <param name="chatTemplate">The template that renders conversations; required for <see cref="CorpusFormat.Chat"/>.</param>
    /// <exception cref="FileNotFoundException">The path does not exist.</exception>
    /// <exception cref="InvalidDataException">The data holds no document, or a line or header is malformed, or the template refuses a conversation.</exception>
    /// <exception cref="ArgumentException">The chat format is asked for without a template.</exception>
    public static List<string> Read(string path, CorpusFormat format = CorpusFormat.Auto, string textColumn = "text", ChatTemplate? chatTemplate = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentException.ThrowIfNullOrEmpty(textColumn);
        if (format == CorpusFormat.Chat && chatTemplate is null)
            throw new ArgumentException("the chat data format needs a chat template to render the conversations", nameof(chatTemplate));
        IEnumerable<string> files;
        if (Directory.Exists(path))
        {
            files = Directory.EnumerateFiles(path)
                .Where(f => Path.GetExtension(f).ToLowerInvariant() is ".txt" or ".jsonl" or ".tsv" or ".md" or ".text")
                .OrderBy(f => f, StringComparer.Ordinal).ToList();
            if (!files.Any()) throw new InvalidDataException($"data folder {path} has no .txt, .md, .jsonl or .tsv files");
        }
        else if (File.Exists(path)) files = new[] { path };
        else throw new FileNotFoundException($"data file not found: {path}", path);

        var docs = new List<string>();
        foreach (var f in files)
        {
            var fmt = format == CorpusFormat.Auto ? FromExtension(f)
                : format == CorpusFormat.Chat && FromExtension(f) != CorpusFormat.Jsonl ? FromExtension(f)
                : format;
            int before = docs.Count;
            switch (fmt)
            {
                case CorpusFormat.Jsonl: ReadJsonl(f, textColumn, docs); break;
                case CorpusFormat.Tsv: ReadTsv(f, textColumn, docs); break;
                case CorpusFormat.Chat: ReadChat(f, textColumn, chatTemplate!, docs); break;
                default: ReadText(f, docs); break;
            }
            if (docs.Count == before && files.Count() == 1)
                throw new InvalidDataException($"data file {f} is empty (no documents)");
        }
        if (docs.Count == 0) throw new InvalidDataException($"data at {path} is empty (no documents)");
        return docs;
    }

    private static CorpusFormat FromExtension(string file) => Path.GetExtension(file).ToLowerInvariant() switch
    {
        ".jsonl" or ".json" => CorpusFormat.Jsonl,
        ".tsv" => CorpusFormat.Tsv,
        _ => CorpusFormat.Text,
    };

    /// <summary>Blank-line separated paragraphs; lines inside one keep their newlines.</summary>
    private static void ReadText(string file, List<string> docs)
    {
        var current = new StringBuilder();
        void Flush()
        {
            if (current.Length > 0) docs.Add(current.ToString());
            current.Clear();
        }
        foreach (var line in File.ReadLines(file))
        {
            if (string.IsNullOrWhiteSpace(line)) { Flush(); continue; }
            if (current.Length > 0) current.Append('\n');
            current.Append(line);
        }
        Flush();
    }

    private static void ReadJsonl(string file, string column, List<string> docs)
    {
        foreach (var (lineNo, doc) in JsonLines(file))
        {
            using (doc)
            {
                if (doc.RootElement.ValueKind != JsonValueKind.Object)
                    throw new InvalidDataException($"{file}:{lineNo}: expected a JSON object with a \"{column}\" string, got {doc.RootElement.ValueKind}");
                if (!doc.RootElement.TryGetProperty(column, out var v))
                {
                    var names = string.Join(", ", doc.RootElement.EnumerateObject().Select(p => p.Name));
                    throw new InvalidDataException($"{file}:{lineNo}: no \"{column}\" field (fields: {names}); choose one with --text-column");
                }
                if (v.ValueKind != JsonValueKind.String)
                    throw new InvalidDataException($"{file}:{lineNo}: field \"{column}\" is {v.ValueKind}, expected a string");
                string text = v.GetString()!;
                if (text.Length > 0) docs.Add(text);
            }
        }
    }

    /// <summary>Each line's conversation rendered as a finished exchange (no generation prompt), as the model will see it in chat.</summary>
    private static void ReadChat(string file, string column, ChatTemplate template, List<string> docs)
    {
        foreach (var (lineNo, doc) in JsonLines(file))
        {
            using (doc)
            {
                if (doc.RootElement.ValueKind != JsonValueKind.Object || !doc.RootElement.TryGetProperty(column, out var messages))
                    throw new InvalidDataException($"{file}:{lineNo}: expected a JSON object with a \"{column}\" list of messages; choose the field with --text-column");
                if (messages.ValueKind != JsonValueKind.Array || messages.GetArrayLength() == 0)
                    throw new InvalidDataException($"{file}:{lineNo}: field \"{column}\" is {messages.ValueKind}, expected a non-empty list of messages");
                try { docs.Add(template.Render(messages)); }
                catch (Exception e) when (e is TemplateException or ArgumentException)
                {
                    throw new InvalidDataException($"{file}:{lineNo}: the chat template cannot render this conversation: {OneLine(e.Message)}");
                }
            }
        }
    }

    /// <summary>Each non-blank line of a JSONL file, parsed (the caller disposes it), with its 1-based number.</summary>
    private static IEnumerable<(int LineNo, JsonDocument Doc)> JsonLines(string file)
    {
        int lineNo = 0;
        foreach (var line in File.ReadLines(file))
        {
            lineNo++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            JsonDocument doc;
            try { doc = JsonDocument.Parse(line); }
            catch (JsonException e) { throw new InvalidDataException($"{file}:{lineNo}: not valid JSON ({OneLine(e.Message)})"); }
            yield return (lineNo, doc);
        }
    }

    private static void ReadTsv(string file, string column, List<string> docs)
    {
        using var reader = new StreamReader(file, Encoding.UTF8);
        string? header = reader.ReadLine();
        if (header is null) throw new InvalidDataException($"data file {file} is empty (no TSV header)");
        var cols = header.Split('\t');
        int index = Array.FindIndex(cols, c => c.Trim() == column);
        if (index < 0)
            throw new InvalidDataException($"{file}: TSV header has no '{column}' column (columns: {string.Join(", ", cols.Select(c => c.Trim()))}); choose one with --text-column");
        int lineNo = 1;
        string? line;
        while ((line = reader.ReadLine()) is not null)
        {
            lineNo++;
            if (line.Length == 0) continue;
            var cells = line.Split('\t');
            if (cells.Length != cols.Length)
                throw new InvalidDataException($"{file}:{lineNo}: {cells.Length} cells, the header has {cols.Length}");
            // TSV has no quoting; the common escapes for newline and tab inside a cell are undone.
            string text = cells[index].Replace("\\n", "\n").Replace("\\t", "\t");
            if (text.Length > 0) docs.Add(text);
        }
    }

    private static string OneLine(string s)
    {
        int nl = s.IndexOfAny(new[] { '\r', '\n' });
        return nl < 0 ? s : s[..nl];
    }
}
