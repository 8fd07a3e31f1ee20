//! The generated `LambdaApi` trait, implemented by delegating to the operations.

use nimbus_core::RequestContext;
use nimbus_model::lambda::{self as m, LambdaApi};
use nimbus_wire::AwsError;

use crate::invoke::{InvocationKind, InvokeRequest};
use crate::service::Lambda;

impl LambdaApi for Lambda {
    async fn create_function(
        &self,
        ctx: &RequestContext,
        input: m::CreateFunctionRequest,
    ) -> Result<m::FunctionConfiguration, AwsError> {
        Ok(self.create_function_op(ctx, input).await?)
    }

    async fn get_function(
        &self,
        ctx: &RequestContext,
        input: m::GetFunctionRequest,
    ) -> Result<m::GetFunctionResponse, AwsError> {
        Ok(self.get_function_op(ctx, input)?)
    }

    async fn get_function_configuration(
        &self,
        ctx: &RequestContext,
        input: m::GetFunctionConfigurationRequest,
    ) -> Result<m::FunctionConfiguration, AwsError> {
        Ok(self.get_function_configuration_op(ctx, input)?)
    }

    async fn update_function_code(
        &self,
        ctx: &RequestContext,
        input: m::UpdateFunctionCodeRequest,
    ) -> Result<m::FunctionConfiguration, AwsError> {
        Ok(self.update_function_code_op(ctx, input).await?)
    }

    async fn update_function_configuration(
        &self,
        ctx: &RequestContext,
        input: m::UpdateFunctionConfigurationRequest,
    ) -> Result<m::FunctionConfiguration, AwsError> {
        Ok(self.update_function_configuration_op(ctx, input).await?)
    }

    async fn delete_function(
        &self,
        ctx: &RequestContext,
        input: m::DeleteFunctionRequest,
    ) -> Result<m::DeleteFunctionResponse, AwsError> {
        Ok(self.delete_function_op(ctx, input).await?)
    }

    async fn list_functions(
        &self,
        ctx: &RequestContext,
        input: m::ListFunctionsRequest,
    ) -> Result<m::ListFunctionsResponse, AwsError> {
        Ok(self.list_functions_op(ctx, input)?)
    }

    async fn publish_version(
        &self,
        ctx: &RequestContext,
        input: m::PublishVersionRequest,
    ) -> Result<m::FunctionConfiguration, AwsError> {
        Ok(self.publish_version_op(ctx, input).await?)
    }

    async fn list_versions_by_function(
        &self,
        ctx: &RequestContext,
        input: m::ListVersionsByFunctionRequest,
    ) -> Result<m::ListVersionsByFunctionResponse, AwsError> {
        Ok(self.list_versions_op(ctx, input)?)
    }

    async fn create_alias(
        &self,
        ctx: &RequestContext,
        input: m::CreateAliasRequest,
    ) -> Result<m::AliasConfiguration, AwsError> {
        Ok(self.create_alias_op(ctx, input).await?)
    }

    async fn get_alias(
        &self,
        ctx: &RequestContext,
        input: m::GetAliasRequest,
    ) -> Result<m::AliasConfiguration, AwsError> {
        Ok(self.get_alias_op(ctx, input)?)
    }

    async fn update_alias(
        &self,
        ctx: &RequestContext,
        input: m::UpdateAliasRequest,
    ) -> Result<m::AliasConfiguration, AwsError> {
        Ok(self.update_alias_op(ctx, input).await?)
    }

    async fn delete_alias(
        &self,
        ctx: &RequestContext,
        input: m::DeleteAliasRequest,
    ) -> Result<(), AwsError> {
        Ok(self.delete_alias_op(ctx, input).await?)
    }

    async fn list_aliases(
        &self,
        ctx: &RequestContext,
        input: m::ListAliasesRequest,
    ) -> Result<m::ListAliasesResponse, AwsError> {
        Ok(self.list_aliases_op(ctx, input)?)
    }

    async fn put_function_concurrency(
        &self,
        ctx: &RequestContext,
        input: m::PutFunctionConcurrencyRequest,
    ) -> Result<m::Concurrency, AwsError> {
        Ok(self.put_concurrency_op(ctx, input).await?)
    }

    async fn get_function_concurrency(
        &self,
        ctx: &RequestContext,
        input: m::GetFunctionConcurrencyRequest,
    ) -> Result<m::GetFunctionConcurrencyResponse, AwsError> {
        Ok(self.get_concurrency_op(ctx, input)?)
    }

    async fn delete_function_concurrency(
        &self,
        ctx: &RequestContext,
        input: m::DeleteFunctionConcurrencyRequest,
    ) -> Result<(), AwsError> {
        Ok(self.delete_concurrency_op(ctx, input).await?)
    }

    async fn publish_layer_version(
        &self,
        ctx: &RequestContext,
        input: m::PublishLayerVersionRequest,
    ) -> Result<m::PublishLayerVersionResponse, AwsError> {
        Ok(self.publish_layer_version_op(ctx, input).await?)
    }

    async fn get_layer_version(
        &self,
        ctx: &RequestContext,
        input: m::GetLayerVersionRequest,
    ) -> Result<m::GetLayerVersionResponse, AwsError> {
        Ok(self.get_layer_version_op(ctx, input)?)
    }

    async fn get_layer_version_by_arn(
        &self,
        _ctx: &RequestContext,
        input: m::GetLayerVersionByArnRequest,
    ) -> Result<m::GetLayerVersionResponse, AwsError> {
        Ok(self.get_layer_version_by_arn_op(input)?)
    }

    async fn list_layers(
        &self,
        ctx: &RequestContext,
        input: m::ListLayersRequest,
    ) -> Result<m::ListLayersResponse, AwsError> {
        Ok(self.list_layers_op(ctx, input)?)
    }

    async fn list_layer_versions(
        &self,
        ctx: &RequestContext,
        input: m::ListLayerVersionsRequest,
    ) -> Result<m::ListLayerVersionsResponse, AwsError> {
        Ok(self.list_layer_versions_op(ctx, input)?)
    }

    async fn delete_layer_version(
        &self,
        ctx: &RequestContext,
        input: m::DeleteLayerVersionRequest,
    ) -> Result<(), AwsError> {
        Ok(self.delete_layer_version_op(ctx, input).await?)
    }

    async fn add_permission(
        &self,
        ctx: &RequestContext,
        input: m::AddPermissionRequest,
    ) -> Result<m::AddPermissionResponse, AwsError> {
        Ok(self.add_permission_op(ctx, input).await?)
    }

    async fn remove_permission(
        &self,
        ctx: &RequestContext,
        input: m::RemovePermissionRequest,
    ) -> Result<(), AwsError> {
        Ok(self.remove_permission_op(ctx, input).await?)
    }

    async fn get_policy(
        &self,
        ctx: &RequestContext,
        input: m::GetPolicyRequest,
    ) -> Result<m::GetPolicyResponse, AwsError> {
        Ok(self.get_policy_op(ctx, input)?)
    }

    async fn tag_resource(
        &self,
        _ctx: &RequestContext,
        input: m::TagResourceRequest,
    ) -> Result<(), AwsError> {
        Ok(self.tag_resource_op(input).await?)
    }

    async fn untag_resource(
        &self,
        _ctx: &RequestContext,
        input: m::UntagResourceRequest,
    ) -> Result<(), AwsError> {
        Ok(self.untag_resource_op(input).await?)
    }

    async fn list_tags(
        &self,
        _ctx: &RequestContext,
        input: m::ListTagsRequest,
    ) -> Result<m::ListTagsResponse, AwsError> {
        Ok(self.list_tags_op(input)?)
    }

    async fn get_account_settings(
        &self,
        ctx: &RequestContext,
        _input: m::GetAccountSettingsRequest,
    ) -> Result<m::GetAccountSettingsResponse, AwsError> {
        Ok(self.account_settings_op(ctx)?)
    }

    async fn put_function_event_invoke_config(
        &self,
        ctx: &RequestContext,
        input: m::PutFunctionEventInvokeConfigRequest,
    ) -> Result<m::FunctionEventInvokeConfig, AwsError> {
        Ok(self
            .put_event_config_op(
                ctx,
                &input.function_name,
                input.qualifier.as_deref(),
                input.maximum_retry_attempts,
                input.maximum_event_age_in_seconds,
                input.destination_config,
                false,
            )
            .await?)
    }

    async fn update_function_event_invoke_config(
        &self,
        ctx: &RequestContext,
        input: m::UpdateFunctionEventInvokeConfigRequest,
    ) -> Result<m::FunctionEventInvokeConfig, AwsError> {
        Ok(self
            .put_event_config_op(
                ctx,
                &input.function_name,
                input.qualifier.as_deref(),
                input.maximum_retry_attempts,
                input.maximum_event_age_in_seconds,
                input.destination_config,
                true,
            )
            .await?)
    }

    async fn get_function_event_invoke_config(
        &self,
        ctx: &RequestContext,
        input: m::GetFunctionEventInvokeConfigRequest,
    ) -> Result<m::FunctionEventInvokeConfig, AwsError> {
        Ok(self.get_event_config_op(ctx, &input.function_name, input.qualifier.as_deref())?)
    }

    async fn delete_function_event_invoke_config(
        &self,
        ctx: &RequestContext,
        input: m::DeleteFunctionEventInvokeConfigRequest,
    ) -> Result<(), AwsError> {
        Ok(self
            .delete_event_config_op(ctx, &input.function_name, input.qualifier.as_deref())
            .await?)
    }

    async fn list_function_event_invoke_configs(
        &self,
        ctx: &RequestContext,
        input: m::ListFunctionEventInvokeConfigsRequest,
    ) -> Result<m::ListFunctionEventInvokeConfigsResponse, AwsError> {
        Ok(self.list_event_configs_op(ctx, input)?)
    }

    async fn create_function_url_config(
        &self,
        ctx: &RequestContext,
        input: m::CreateFunctionUrlConfigRequest,
    ) -> Result<m::CreateFunctionUrlConfigResponse, AwsError> {
        Ok(self.create_url_config_op(ctx, input).await?)
    }

    async fn get_function_url_config(
        &self,
        ctx: &RequestContext,
        input: m::GetFunctionUrlConfigRequest,
    ) -> Result<m::GetFunctionUrlConfigResponse, AwsError> {
        Ok(self.get_url_config_op(ctx, input)?)
    }

    async fn update_function_url_config(
        &self,
        ctx: &RequestContext,
        input: m::UpdateFunctionUrlConfigRequest,
    ) -> Result<m::UpdateFunctionUrlConfigResponse, AwsError> {
        Ok(self.update_url_config_op(ctx, input).await?)
    }

    async fn delete_function_url_config(
        &self,
        ctx: &RequestContext,
        input: m::DeleteFunctionUrlConfigRequest,
    ) -> Result<(), AwsError> {
        Ok(self.delete_url_config_op(ctx, input).await?)
    }

    async fn list_function_url_configs(
        &self,
        ctx: &RequestContext,
        input: m::ListFunctionUrlConfigsRequest,
    ) -> Result<m::ListFunctionUrlConfigsResponse, AwsError> {
        Ok(self.list_url_configs_op(ctx, input)?)
    }

    async fn invoke(
        &self,
        ctx: &RequestContext,
        input: m::InvocationRequest,
    ) -> Result<m::InvocationResponse, AwsError> {
        let kind = match input.invocation_type.as_ref().map(|t| t.as_str()) {
            Some("Event") => InvocationKind::Event,
            Some("DryRun") => InvocationKind::DryRun,
            _ => InvocationKind::RequestResponse,
        };
        let r = Lambda::invoke(
            self,
            ctx,
            InvokeRequest {
                function_name: input.function_name,
                qualifier: input.qualifier,
                kind,
                log_tail: input
                    .log_type
                    .as_ref()
                    .is_some_and(|l| l.as_str() == "Tail"),
                client_context: input.client_context,
                payload: bytes::Bytes::from(input.payload.unwrap_or_default()),
            },
        )
        .await?;
        Ok(m::InvocationResponse {
            status_code: Some(r.status),
            function_error: r.function_error,
            log_result: r.log_result,
            payload: Some(r.payload.to_vec()),
            executed_version: r.executed_version,
            durable_execution_arn: None,
        })
    }

    async fn invoke_async(
        &self,
        ctx: &RequestContext,
        input: m::InvokeAsyncRequest,
    ) -> Result<m::InvokeAsyncResponse, AwsError> {
        let r = Lambda::invoke(
            self,
            ctx,
            InvokeRequest {
                function_name: input.function_name,
                qualifier: None,
                kind: InvocationKind::Event,
                log_tail: false,
                client_context: None,
                payload: bytes::Bytes::from(input.invoke_args),
            },
        )
        .await?;
        Ok(m::InvokeAsyncResponse {
            status: Some(r.status),
        })
    }
}
