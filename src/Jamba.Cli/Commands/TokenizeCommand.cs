using System.Text.Json;
using Jamba.Tokenization;

namespace Jamba.Cli.Commands;

/// <summary>`jamba tokenize`: JSON strings on stdin, one per line → ids on stdout.</summary>
public sealed class TokenizeCommand : ICommand
{
    public string Name => "tokenize";
    public string Summary => "tokenize JSON strings from stdin (one per line) and print their ids";
    public IEnumerable<string> ValueOptions => new[] { "tokenizer", "add-bos", "add-eos" };
    public IEnumerable<string> FlagOptions => Array.Empty<string>();
    public string Help =>
        "usage: jamba tokenize --tokenizer FILE [--add-bos true|false] [--add-eos true|false] < lines.jsonl\n\n" +
        "Reads one JSON string per line (e.g. \"Hello world\") and prints one line per input with its ids,\n" +
        "comma-separated (an empty line when there are none).\n" +
        "  --tokenizer T      a tokenizer.json, a SentencePiece tokenizer.model, a checkpoint folder holding one, or 'byte'\n" +
        "  --add-bos B        put the BOS id first (default false)\n" +
        "  --add-eos B        put the EOS id last (default false)";

    public int Run(CliArgs args)
    {
        var tokenizer = JambaTokenizer.Load(args.Required("tokenizer"));
        bool bos = args.Bool("add-bos", false), eos = args.Bool("add-eos", false);
        var stdout = new StreamWriter(Console.OpenStandardOutput()) { AutoFlush = false, NewLine = "\n" };
        string? line;
        int lineNumber = 0;
        while ((line = Console.In.ReadLine()) is not null)
        {
            lineNumber++;
            string? text;
            try { text = JsonSerializer.Deserialize<string>(line); }
            catch (JsonException e) { throw new InvalidDataException($"stdin line {lineNumber} is not a JSON string: {e.Message}"); }
            if (text is null) throw new InvalidDataException($"stdin line {lineNumber} is null, expected a JSON string");
            stdout.WriteLine(string.Join(",", tokenizer.Encode(text, bos, eos)));
        }
        stdout.Flush();
        return 0;
    }
}
