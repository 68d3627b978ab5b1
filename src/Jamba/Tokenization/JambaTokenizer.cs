namespace Jamba.Tokenization;

/// <summary>Finds and loads the tokenizer of a Jamba checkpoint.</summary>
public static class JambaTokenizer
{
    /// <summary>The name <see cref="Load"/> takes for the built-in <see cref="ByteTokenizer"/>.</summary>
    public const string ByteTokenizerName = "byte";

    /// <summary>The SentencePiece model file a Hugging Face Jamba checkpoint folder holds.</summary>
    public const string ModelFileName = "tokenizer.model";

    /// <summary>The Hugging Face fast-tokenizer file; a folder's first choice when it has one.</summary>
    public const string JsonFileName = HuggingFaceTokenizer.FileName;

    /// <summary>
    /// Loads a tokenizer from a <c>tokenizer.json</c> file, a <c>tokenizer.model</c> file, a checkpoint folder (its
    /// <c>tokenizer.json</c> when present, else its <c>tokenizer.model</c>, as Hugging Face's fast tokenizers choose),
    /// or, for the name <c>"byte"</c>, the built-in <see cref="ByteTokenizer"/> (a folder literally called <c>byte</c>
    /// can be given as <c>./byte</c>). A file whose name ends in <c>.json</c> is read as a <c>tokenizer.json</c>, any other
    /// as a SentencePiece model.
    /// </summary>
    /// <exception cref="FileNotFoundException">Neither the file nor a folder with a tokenizer exists; the message names the path.</exception>
    /// <exception cref="InvalidDataException">The file is not a tokenizer of its kind; the message names the file.</exception>
    /// <exception cref="NotSupportedException">The tokenizer is a kind this library does not reproduce exactly (see <see cref="SentencePieceTokenizer"/> and <see cref="HuggingFaceTokenizer"/>).</exception>
    public static IJambaTokenizer Load(string pathOrFolder)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(pathOrFolder);
        if (pathOrFolder == ByteTokenizerName) return ByteTokenizer.Instance;

        if (Directory.Exists(pathOrFolder))
        {
            string file = FindInFolder(pathOrFolder)
                ?? throw new FileNotFoundException($"The folder {pathOrFolder} has no {JsonFileName} and no {ModelFileName}.", Path.Combine(pathOrFolder, ModelFileName));
            return LoadFile(file);
        }
        if (File.Exists(pathOrFolder)) return LoadFile(pathOrFolder);

        throw new FileNotFoundException(
            $"No tokenizer at {pathOrFolder}: expected a {JsonFileName} or {ModelFileName} file, a checkpoint folder containing one, or \"{ByteTokenizerName}\".",
            pathOrFolder);
    }

    /// <summary>The tokenizer file a checkpoint folder would be loaded from (<c>tokenizer.json</c> first), or null.</summary>
    public static string? FindInFolder(string folder)
    {
        foreach (string name in new[] { JsonFileName, ModelFileName })
        {
            string file = Path.Combine(folder, name);
            if (File.Exists(file)) return file;
        }
        return null;
    }

    private static IJambaTokenizer LoadFile(string file) =>
        file.EndsWith(".json", StringComparison.OrdinalIgnoreCase)
            ? HuggingFaceTokenizer.FromFile(file)
            : SentencePieceTokenizer.FromFile(file);
}
