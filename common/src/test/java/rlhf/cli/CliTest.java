package rlhf.cli;

import static org.junit.jupiter.api.Assertions.assertSame;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.UncheckedIOException;

import org.junit.jupiter.api.Test;

import rlhf.config.ConfigException;

/** Which exception of a failure's chain the error path reports. */
class CliTest {

    @Test
    void ourMessageWinsOverTheLibraryExceptionItWraps() {
        IOException jackson = new IOException("Unexpected end-of-input\n at [Source: REDACTED]");
        IOException ours = new IOException("dir/vocab.json: not valid JSON: Unexpected end-of-input", jackson);
        assertSame(ours, Cli.cause(ours));
        ConfigException config = new ConfigException("cannot read config file my.properties: File my.properties does "
                + "not exist", new FileNotFoundException("File my.properties does not exist"));
        assertSame(config, Cli.cause(config));
    }

    @Test
    void wrappersThatAreNotOursOrOnlyRepeatTheirCauseAreSeenThrough() {
        RowException row = new RowException(new InputRow(0, "f.jsonl", 1, "x"), "not valid JSON");
        Exception sparkJob = new Exception("Job aborted due to stage failure: ...", row);
        assertSame(row, Cli.cause(sparkJob));
        IllegalArgumentException bad = new IllegalArgumentException("data.prompts p.jsonl: all 2 prompts are too long");
        IOException bare = new IOException(bad);
        assertSame(bad, Cli.cause(new UncheckedIOException(bare)));
    }
}
