namespace Jamba.Checkpoints;

/// <summary>
/// A checkpoint file or folder cannot be read or written as asked. The message is one line meant for the
/// user: it names the file, tensor, shape or offset at fault, because a bare "invalid file" is useless when a
/// multi-gigabyte download is half-finished or a state dict belongs to another model.
/// </summary>
public sealed class CheckpointException : Exception
{
    /// <summary>Creates an exception with a user-facing message.</summary>
    public CheckpointException(string message) : base(message) { }

    /// <summary>Creates an exception that keeps the low-level cause (I/O or JSON error) for debugging.</summary>
    public CheckpointException(string message, Exception inner) : base(message, inner) { }

    /// <summary>Creates an exception about one file, so callers can report or retry that file.</summary>
    public CheckpointException(string message, string? path, Exception? inner = null) : base(message, inner) => FilePath = path;

    /// <summary>The file or folder at fault, when there is one.</summary>
    public string? FilePath { get; init; }

    /// <summary>
    /// The config.json key that disagrees with the checkpoint (from <see cref="CheckpointValidation.Check"/>), e.g.
    /// <c>num_hidden_layers</c>; null when the error is about tensors rather than one key.
    /// </summary>
    public string? ConfigKey { get; init; }

    /// <summary>Module keys the state dict lacks (from <see cref="CheckpointFolder.LoadInto"/>); empty otherwise.</summary>
    public IReadOnlyList<string> MissingKeys { get; init; } = Array.Empty<string>();

    /// <summary>State-dict keys the module does not have (from <see cref="CheckpointFolder.LoadInto"/>); empty otherwise.</summary>
    public IReadOnlyList<string> UnexpectedKeys { get; init; } = Array.Empty<string>();

    /// <summary>Keys present on both sides with different shapes, as "name: module [..], checkpoint [..]".</summary>
    public IReadOnlyList<string> ShapeMismatches { get; init; } = Array.Empty<string>();
}
