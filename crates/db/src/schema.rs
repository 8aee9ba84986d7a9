// Mirrors migrations/; kept by hand (diesel print-schema output format) because
// diesel_cli needs libpq, which the project otherwise does without.
diesel::table! {
    api_tokens (id) {
        id -> Uuid,
        user_id -> Uuid,
        token_hash -> Bytea,
        created_at -> Timestamptz,
        revoked_at -> Nullable<Timestamptz>,
        name -> Text,
        kind -> Text,
        last_used_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    comments (id) {
        id -> Uuid,
        image_id -> Uuid,
        author_id -> Uuid,
        text -> Text,
        created_at -> Timestamptz,
        edited_at -> Timestamptz,
    }
}

diesel::table! {
    images (id) {
        id -> Uuid,
        owner_id -> Uuid,
        content_id -> Uuid,
        content_type -> Text,
        width -> Int4,
        height -> Int4,
        byte_size -> Int8,
        thumbnail_content_type -> Text,
        description -> Nullable<Text>,
        analysis_status -> Text,
        analysis_model -> Nullable<Text>,
        analysis_error -> Nullable<Text>,
        analysis_requested_at -> Nullable<Timestamptz>,
        analysis_completed_at -> Nullable<Timestamptz>,
        source -> Text,
        prompt -> Nullable<Text>,
        parent_id -> Nullable<Uuid>,
        created_at -> Timestamptz,
        edited_at -> Timestamptz,
        edits -> Nullable<Jsonb>,
        comment_count -> Int4,
        kept_from -> Nullable<Uuid>,
        tags -> Array<Text>,
        // search_document (tsvector) is left out on purpose: triggers write it, and
        // only the hand-built search statements in models/image.rs read it.
    }
}

diesel::table! {
    users (id) {
        id -> Uuid,
        name -> Text,
        role -> Text,
        created_at -> Timestamptz,
        password_hash -> Nullable<Text>,
        disabled_at -> Nullable<Timestamptz>,
    }
}

diesel::joinable!(api_tokens -> users (user_id));
diesel::joinable!(comments -> images (image_id));
diesel::joinable!(comments -> users (author_id));
diesel::joinable!(images -> users (owner_id));

diesel::table! {
    jobs (id) {
        id -> Uuid,
        kind -> Text,
        payload -> Jsonb,
        status -> Text,
        attempts -> Int4,
        max_attempts -> Int4,
        run_at -> Timestamptz,
        locked_by -> Nullable<Text>,
        locked_until -> Nullable<Timestamptz>,
        last_error -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        request_id -> Nullable<Text>,
        traceparent -> Nullable<Text>,
    }
}

diesel::table! {
    generations (id) {
        id -> Uuid,
        owner_id -> Uuid,
        prompt -> Text,
        size -> Text,
        with_analysis -> Bool,
        status -> Text,
        model -> Nullable<Text>,
        error -> Nullable<Text>,
        image_id -> Nullable<Uuid>,
        created_at -> Timestamptz,
        completed_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    ai_calls (id) {
        id -> Uuid,
        user_id -> Nullable<Uuid>,
        operation -> Text,
        model -> Text,
        prompt_tokens -> Int4,
        completion_tokens -> Int4,
        succeeded -> Bool,
        duration_ms -> Int4,
        created_at -> Timestamptz,
    }
}

diesel::joinable!(generations -> users (owner_id));
diesel::joinable!(generations -> images (image_id));
diesel::joinable!(ai_calls -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(
    ai_calls,
    api_tokens,
    comments,
    generations,
    images,
    jobs,
    users
);

diesel::table! {
    usage_counters (bucket_size, bucket_start, kind, name, user_id) {
        bucket_size -> Text,
        bucket_start -> Timestamptz,
        kind -> Text,
        name -> Text,
        user_id -> Uuid,
        count -> Int8,
        error_count -> Int8,
        duration_us -> Int8,
        prompt_tokens -> Int8,
        completion_tokens -> Int8,
        last_used_at -> Timestamptz,
    }
}

diesel::table! {
    benchmark_runs (id) {
        id -> Uuid,
        owner_id -> Uuid,
        status -> Text,
        n -> Int4,
        block_size -> Int4,
        threads -> Int4,
        seed -> Int8,
        seconds -> Nullable<Float8>,
        gflops -> Nullable<Float8>,
        residual -> Nullable<Float8>,
        passed -> Nullable<Bool>,
        error -> Nullable<Text>,
        host_name -> Nullable<Text>,
        cpu_model -> Nullable<Text>,
        cores -> Nullable<Int4>,
        created_at -> Timestamptz,
        started_at -> Nullable<Timestamptz>,
        finished_at -> Nullable<Timestamptz>,
    }
}

diesel::joinable!(benchmark_runs -> users (owner_id));
