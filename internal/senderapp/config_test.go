package senderapp

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// lambdaConfig resolves what config.LoadDefaultConfig resolves in a Lambda environment: the
// region, the role's credentials from the environment, and the endpoint of local runs.
func TestLambdaConfigIsWhatTheSDKResolvesOnLambda(t *testing.T) {
	for name, extra := range map[string]map[string]string{
		"on AWS":    {},
		"local run": {"AWS_ENDPOINT_URL": "http://127.0.0.1:4566"},
	} {
		t.Run(name, func(t *testing.T) {
			lambdaEnv := map[string]string{
				"AWS_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "ASIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret",
				"AWS_SESSION_TOKEN": "token", "AWS_LAMBDA_FUNCTION_NAME": "sender",
			}
			for k, v := range extra {
				lambdaEnv[k] = v
			}
			for k, v := range lambdaEnv {
				t.Setenv(k, v)
			}
			home := t.TempDir() // Lambda has no shared configuration files
			t.Setenv("HOME", home)
			t.Setenv("AWS_CONFIG_FILE", home+"/config")
			t.Setenv("AWS_SHARED_CREDENTIALS_FILE", home+"/credentials")
			t.Setenv("AWS_PROFILE", "")
			want, err := config.LoadDefaultConfig(context.Background())
			require.NoError(t, err)
			got, err := lambdaConfig(env(lambdaEnv))
			require.NoError(t, err)

			assert.Equal(t, want.Region, got.Region)
			assert.Equal(t, aws.ToString(want.BaseEndpoint), aws.ToString(got.BaseEndpoint))
			wantCreds, err := want.Credentials.Retrieve(context.Background())
			require.NoError(t, err)
			gotCreds, err := got.Credentials.Retrieve(context.Background())
			require.NoError(t, err)
			assert.Equal(t, wantCreds, gotCreds)
			assert.Equal(t, want.RetryMaxAttempts, got.RetryMaxAttempts)
			assert.Equal(t, want.RetryMode, got.RetryMode)
			assert.Equal(t, want.DefaultsMode, got.DefaultsMode)
			assert.Equal(t, want.AccountIDEndpointMode, got.AccountIDEndpointMode)
			assert.Equal(t, want.RequestChecksumCalculation, got.RequestChecksumCalculation)
			assert.Equal(t, want.ResponseChecksumValidation, got.ResponseChecksumValidation)
			assert.Equal(t, want.ClientLogMode, got.ClientLogMode)
			assert.Equal(t, want.AppID, got.AppID)
			assert.IsType(t, want.Logger, got.Logger)
			assert.Empty(t, want.APIOptions, "nothing else added to every call")
			assert.Empty(t, want.ServiceOptions)
		})
	}
}

func TestLambdaConfigNeedsLambdasEnvironment(t *testing.T) {
	_, err := lambdaConfig(env(map[string]string{"AWS_REGION": "eu-west-1"}))
	assert.ErrorContains(t, err, "AWS_ACCESS_KEY_ID")
}
